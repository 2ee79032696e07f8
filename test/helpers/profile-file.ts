import { sha256Hex } from '../../src/auth/keyring.ts';

/**
 * The config file an operator writes for a server whose Datadog keys live in a secret manager:
 * one profile, `prod`, in front of `apiUrl` (the simulator), with the given `[secrets]` lines.
 */
export interface SecretsProfileFile {
  apiUrl: string;
  /** Lines of `[profiles.prod.secrets]`. */
  secrets: readonly string[];
  /** A bearer token (hashed into `[auth]`) and its subject; without it the file has no `[auth]`. */
  caller?: { token: string; subject: string };
  /** Lines of `[server]`, if any. */
  server?: readonly string[];
  /** Any further top-level tables, written as they are. */
  extra?: string;
}

export function secretsProfileToml(file: SecretsProfileFile): string {
  const sections = [
    file.server?.length ? `[server]\n${file.server.join('\n')}` : undefined,
    file.caller ? `[auth]\napi_keys = [{ hash = "${sha256Hex(file.caller.token)}", subject = "${file.caller.subject}", roles = ["viewer"] }]` : undefined,
    file.extra,
    `[profiles.prod]\nbackend = "datadog"\napi_url = "${file.apiUrl}"`,
    `[profiles.prod.secrets]\n${file.secrets.join('\n')}`,
  ];
  return `${sections.filter((s) => s !== undefined && s !== '').join('\n\n')}\n`;
}

/** `[secrets]` lines for the AWS Secrets Manager fake in eu-west-1. */
export function awsSecretLines(secretId: string, endpoint: string, timeoutMs: number): string[] {
  return ['provider = "aws"', 'region = "eu-west-1"', `secret = "${secretId}"`, `endpoint = "${endpoint}"`, `timeout_ms = ${timeoutMs}`];
}
