/**
 * The runtime check the `tinkr-server` command runs before anything else (bin.ts). It must load
 * and run on any Node that can run an ES module at all, so it imports nothing and uses no
 * syntax newer than Node 12's.
 */

/** The oldest Node major the server runs on (package.json `engines`): undici 8 and the server need it. */
export const REQUIRED_NODE_MAJOR = 24;

/** A message naming the required version when `version` (`process.versions.node`) is too old; undefined when it will do. */
export function unsupportedNode(version: string): string | undefined {
  const major = Number(String(version).split('.')[0]);
  if (Number.isInteger(major) && major >= REQUIRED_NODE_MAJOR) return undefined;
  return `tinkr-server: Node.js ${REQUIRED_NODE_MAJOR} or newer is required; this is Node.js ${version}. Install Node.js ${REQUIRED_NODE_MAJOR} (https://nodejs.org), or run the container image, which brings its own.`;
}
