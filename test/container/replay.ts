import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { inBuildContext, parseCopy, parseDockerfile, parseEnv, parseHealthcheck } from './dockerfile.ts';

/**
 * No Docker engine runs here, so this replays the Dockerfile instruction by instruction: the
 * build stage compiles `src` (with the repo's dev dependencies standing in for the stage's own
 * `npm ci`: one install per test run), the runtime stage gets a clean `npm ci --omit=dev` and
 * `dist/`, the simulator stage its package's files. An instruction it cannot replay fails.
 */

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const DOCKERFILE = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
export const DOCKERIGNORE = readFileSync(join(REPO, '.dockerignore'), 'utf8');
/** npm ci downloads (or reads its cache), tsc compiles: minutes on a shared, cold machine. */
export const INSTALL_TIMEOUT_MS = 300_000;
/** npm must run on Node 24 (the machine's own Node may be older); the project's node goes first on PATH. */
const PATH_WITH_NODE_24 = `${dirname(process.execPath)}:${process.env.PATH ?? ''}`;
/**
 * This machine's npm settings, not the image's steps (the command lines stay verbatim): no audit
 * or funding round trips, and cached tarballs first. Each npm ci is then ~10 s instead of minutes.
 */
const NPM_QUIET = { npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', npm_config_prefer_offline: 'true' };
/**
 * How this machine reaches the npm registry (a proxy, its CA, a mirror), passed through when set:
 * a docker build here would need the same, and without them a package missing from the cache
 * cannot be fetched.
 */
const NETWORK_ENV = Object.fromEntries(
  ['NODE_EXTRA_CA_CERTS', 'HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy', 'npm_config_registry', 'npm_config_cafile']
    .map((name) => [name, process.env[name]])
    .filter((entry): entry is [string, string] => entry[1] !== undefined),
);

/** One stage as an image: what `docker build --target <stage>` would make of it. */
export interface Image {
  /** The stage's /app. */
  app: string;
  env: Record<string, string>;
  user: string | undefined;
  entrypoint: string[];
  healthcheck: { options: Record<string, string>; command: string[] } | undefined;
}

/** Every stage by name, and `default`: the last one, which a build without `--target` makes. */
export interface Replayed {
  stages: Record<string, Image>;
  default: string;
}

function run(command: string, args: string[], cwd: string, env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, env: { PATH: PATH_WITH_NODE_24, HOME: process.env.HOME ?? '', ...NETWORK_ENV, ...NPM_QUIET, ...env }, maxBuffer: 16 * 1024 * 1024 }, (error, _stdout, stderr) =>
      error ? reject(new Error(`${command} ${args.join(' ')} failed: ${stderr.slice(-3000)}`)) : resolve(),
    );
  });
}

/** Replays the Dockerfile; each stage's WORKDIR /app is a directory under `root`. */
export async function replayDockerfile(root: string): Promise<Replayed> {
  const stages: Record<string, Image> = {};
  let stage = '';
  let image: Image | undefined;
  const inStage = (path: string) => join(image!.app, path);

  for (const { keyword, args, line } of parseDockerfile(DOCKERFILE)) {
    const where = `Dockerfile:${line} ${keyword} ${args}`;
    switch (keyword) {
      case 'ARG':
      case 'EXPOSE':
        break;
      case 'FROM': {
        stage = /\sAS\s+(\S+)$/i.exec(args)?.[1] ?? `stage${Object.keys(stages).length}`;
        image = { app: join(root, stage), env: {}, user: undefined, entrypoint: [], healthcheck: undefined };
        mkdirSync(image.app, { recursive: true });
        stages[stage] = image;
        break;
      }
      case 'WORKDIR':
        expect(args, where).toBe('/app');
        break;
      case 'ENV':
        Object.assign(image!.env, parseEnv(args));
        break;
      case 'COPY': {
        const { from, sources, dest } = parseCopy(args);
        for (const source of sources) {
          let origin: string;
          if (from !== undefined) {
            expect(source.startsWith('/app/'), where).toBe(true);
            origin = join(stages[from]!.app, source.slice('/app/'.length));
          } else {
            expect(inBuildContext(DOCKERIGNORE, source), `${where}: ${source} is excluded by .dockerignore`).toBe(true);
            origin = join(REPO, source);
          }
          const target = dest.endsWith('/') ? inStage(join(dest, source.split('/').at(-1)!)) : inStage(dest);
          cpSync(origin, target, {
            recursive: true,
            // What .dockerignore keeps out of the context never reaches the image.
            filter: (path) => from !== undefined || inBuildContext(DOCKERIGNORE, relative(REPO, path)),
          });
        }
        break;
      }
      case 'RUN':
        for (const command of args.split('&&').map((c) => c.trim())) {
          if (/^npm ci\b/.test(command) && stage === 'build') {
            // Stands in for the build stage's full install: the repo's own node_modules.
            expect(command, where).toBe('npm ci --ignore-scripts --workspaces=false');
            symlinkSync(join(REPO, 'node_modules'), inStage('node_modules'), 'dir');
          } else if (/^npm ci\b/.test(command)) {
            await run('npm', command.split(/\s+/).slice(1), image!.app, image!.env);
          } else if (command === 'npm run build') {
            await run('npm', ['run', 'build'], image!.app, image!.env);
          } else if (/^npm cache clean\b/.test(command)) {
            // Would clear this machine's npm cache; it only keeps the image small.
          } else {
            throw new Error(`${where}: this test does not know how to replay "${command}"`);
          }
        }
        break;
      case 'USER':
        image!.user = args;
        break;
      case 'HEALTHCHECK':
        image!.healthcheck = parseHealthcheck(args);
        break;
      case 'ENTRYPOINT':
        image!.entrypoint = JSON.parse(args) as string[];
        break;
      default:
        throw new Error(`${where}: this test does not know how to replay ${keyword}`);
    }
  }
  return { stages, default: stage };
}
