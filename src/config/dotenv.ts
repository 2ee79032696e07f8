import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';

/**
 * Variables from `~/.tinkr/.env` and `./.env`
 * (docs/configuration.md#where-the-configuration-comes-from), earlier files winning; never over a
 * variable that is already set. Returns only the ones to add.
 */
export function readDotenvFiles(homeDir: string, cwd: string, current: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const added: Record<string, string> = {};
  for (const file of [join(homeDir, '.tinkr', '.env'), join(cwd, '.env')]) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const [name, value] of Object.entries(parseEnv(text))) {
      if (current[name] === undefined && added[name] === undefined && value !== undefined) added[name] = value;
    }
  }
  return added;
}
