// Fails fast when the scripts would run on a Node older than 24.
// `npm ci --ignore-scripts` skips the `node` devDependency's install step, so npm falls back to
// the machine's Node and vitest dies later with a confusing error; this says what to do instead.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(
    `tinkr-server needs Node 24 or newer; this is Node ${process.versions.node}.\n` +
      'Run `npm ci` without --ignore-scripts (the `node` devDependency then provides Node 24 to npm scripts),\n' +
      'or install Node 24 and put it first on PATH.',
  );
  process.exit(1);
}
