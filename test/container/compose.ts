import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

/** docker-compose.yml as Compose reads it, with the few fields the tests look at. */

export interface ComposeService {
  profiles?: string[];
  user?: string;
  tmpfs?: string[];
  volumes?: string[];
  /** `.` (the Dockerfile's last stage) or a context and a target stage. */
  build?: string | { context: string; target?: string };
  image?: string;
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }> | string[];
  read_only?: boolean;
  ports?: string[];
  stop_grace_period?: string;
}
export interface Compose {
  services: Record<string, ComposeService>;
}

// The three replicas are one YAML anchor (`*replica`), resolved here as Compose resolves it.
export const COMPOSE = parseYaml(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8')) as Compose;
