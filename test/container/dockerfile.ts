/**
 * Just enough of the Dockerfile format to replay this project's Dockerfile outside Docker:
 * instructions with their line continuations joined, comments dropped.
 */

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) {
      line = `${line.slice(0, -1).trim()} ${lines[++i]!.trim()}`;
    }
    const match = /^(\S+)\s*(.*)$/.exec(line)!;
    out.push({ keyword: match[1]!.toUpperCase(), args: match[2]!, line: start + 1 });
  }
  return out;
}

/** `COPY [--from=stage] src... dest`. */
export function parseCopy(args: string): { from: string | undefined; sources: string[]; dest: string } {
  const words = args.split(/\s+/);
  const from = words[0]?.startsWith('--from=') ? words.shift()!.slice('--from='.length) : undefined;
  if (words.some((w) => w.startsWith('--'))) throw new Error(`COPY flag not replayed: ${args}`);
  const dest = words.pop()!;
  return { from, sources: words, dest };
}

/** `HEALTHCHECK [--opt=value...] CMD ["exec", "form"]`. */
export function parseHealthcheck(args: string): { options: Record<string, string>; command: string[] } {
  const match = /^((?:--\S+\s+)*)CMD\s+(\[.*\])$/.exec(args);
  if (!match) throw new Error(`HEALTHCHECK must use CMD in exec form: ${args}`);
  const options = Object.fromEntries(
    match[1]!
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map((o) => o.slice(2).split('=') as [string, string]),
  );
  return { options, command: JSON.parse(match[2]!) as string[] };
}

/** `ENV KEY=value [KEY=value...]` (no quotes or spaces in values here; a value may hold `=`). */
export function parseEnv(args: string): Record<string, string> {
  return Object.fromEntries(
    args.split(/\s+/).map((pair) => {
      const at = pair.indexOf('=');
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

/**
 * Whether `.dockerignore` lets `path` into the build context: the last matching pattern wins,
 * `!` re-includes. Patterns here are `*`, literal paths and `dir/**\/*.ext`.
 */
export function inBuildContext(dockerignore: string, path: string): boolean {
  let included = true;
  for (const raw of dockerignore.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negated = line.startsWith('!');
    const pattern = negated ? line.slice(1) : line;
    if (matches(pattern, path)) included = negated;
  }
  return included;
}

function matches(pattern: string, path: string): boolean {
  if (pattern === '*') return true;
  if (pattern === path || path.startsWith(`${pattern}/`)) return true;
  const regex = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*\*\//g, '\u0000')
      .replace(/\*/g, '[^/]*')
      .replace(/\u0000/g, '(?:.*/)?')}$`,
  );
  return regex.test(path);
}
