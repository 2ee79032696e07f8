import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { FakeFailure } from './failure.ts';
import { type LoopbackServer, type RecordedRequest, sendJson, sendTruncated, startLoopbackServer, type TlsMaterial } from './server.ts';

/**
 * A loopback Azure Key Vault over HTTPS. Like the real one it first answers 401 with a
 * `WWW-Authenticate: Bearer authorization=..., resource=...` challenge, then serves
 * `GET /secrets/{name}/{version?}` to a request carrying an accepted bearer token
 * (research §2.3 and the 2026-11-25 update: the SDK answers the challenge only over HTTPS).
 */

const SECRET_PATH = /^\/secrets\/([^/?]+)\/?([^/?]*)(?:\?.*)?$/;
export const FAKE_TENANT = '00000000-0000-4000-8000-000000000001';

export type AzureFailure =
  | FakeFailure
  /** The host answers, but not as a Key Vault (a 404 page with no Key Vault error body). */
  | 'not_a_vault';

interface StoredSecret {
  versions: Array<{ version: string; value: string | undefined }>;
  failure?: AzureFailure;
}

export interface AzureKeyVaultFake extends LoopbackServer {
  /** Stores a new version (32 hex characters, returned) and makes it the latest. `undefined` omits `value`. */
  put(name: string, value: string | undefined, version?: string): string;
  fail(name: string, failure: AzureFailure | undefined): void;
  /** Bearer tokens the vault accepts; others get a 401. */
  acceptTokens(...tokens: string[]): void;
  calls(): Array<{ name: string; version: string; authorization?: string; request: RecordedRequest }>;
}

function kvError(res: ServerResponse, status: number, code: string, message: string, inner?: string): void {
  sendJson(res, status, { error: { code, message, ...(inner ? { innererror: { code: inner } } : {}) } });
}

export async function startAzureKeyVault(tls: TlsMaterial): Promise<AzureKeyVaultFake> {
  const secrets = new Map<string, StoredSecret>();
  const accepted = new Set<string>();
  let base = '';

  const server = await startLoopbackServer((req, res) => {
    const match = SECRET_PATH.exec(req.url);
    const name = match?.[1] ?? '';
    const secret = secrets.get(name);
    if (secret?.failure === 'not_a_vault') {
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end('<html><body>404 Web Site not found</body></html>');
      return;
    }
    const auth = req.headers.authorization;
    if (auth === undefined) {
      res.writeHead(401, {
        'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/${FAKE_TENANT}", resource="https://vault.azure.net"`,
        'content-type': 'application/json',
      });
      res.end(JSON.stringify({ error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } }));
      return;
    }
    const token = auth.replace(/^Bearer /, '');
    if (!accepted.has(token) || secret?.failure === 'unauthenticated') {
      kvError(res, 401, 'Unauthorized', 'AKV10032: Invalid issuer.');
      return;
    }
    if (req.method !== 'GET' || !match) {
      kvError(res, 400, 'BadParameter', `fake only serves GET /secrets/{name}, not ${req.method} ${req.url}`);
      return;
    }
    const notFound = () => kvError(res, 404, 'SecretNotFound', `A secret with (name/id) ${name} was not found in this key vault.`);
    switch (secret?.failure) {
      case 'not_found':
        notFound();
        return;
      case 'denied':
        kvError(res, 403, 'Forbidden', `Caller is not authorized to perform action on resource. Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'`, 'ForbiddenByRbac');
        return;
      case 'disabled':
        kvError(res, 403, 'Forbidden', 'Operation get is not allowed on a disabled secret.', 'SecretDisabled');
        return;
      case 'server_error':
        kvError(res, 500, 'InternalServerError', 'Internal server error.');
        return;
      case 'hang':
        return;
      case 'non_json':
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html><body>Welcome to the proxy</body></html>');
        return;
      default:
        break;
    }
    const wanted = match[2] ?? '';
    const version = wanted === '' ? secret?.versions.at(-1) : secret?.versions.find((v) => v.version === wanted);
    if (!version) {
      notFound();
      return;
    }
    const body = {
      id: `${base}/secrets/${name}/${version.version}`,
      attributes: { enabled: true, created: 1_764_043_200, updated: 1_764_043_200, recoveryLevel: 'Recoverable+Purgeable' },
      tags: {},
      ...(version.value !== undefined ? { value: version.value } : {}),
    };
    if (secret?.failure === 'truncated') sendTruncated(res, body);
    else sendJson(res, 200, body);
  }, tls);
  base = server.url;

  return {
    ...server,
    close: server.close,
    put(name, value, version = randomBytes(16).toString('hex')) {
      const secret = secrets.get(name) ?? { versions: [] };
      secrets.set(name, secret);
      secret.versions.push({ version, value });
      return version;
    },
    fail(name, failure) {
      const secret = secrets.get(name) ?? { versions: [] };
      secrets.set(name, secret);
      if (failure === undefined) delete secret.failure;
      else secret.failure = failure;
    },
    acceptTokens(...tokens) {
      for (const t of tokens) accepted.add(t);
    },
    calls() {
      return server.requests.flatMap((request) => {
        const m = SECRET_PATH.exec(request.url);
        if (!m) return [];
        const authorization = request.headers.authorization;
        return [{ name: m[1] ?? '', version: m[2] ?? '', ...(authorization !== undefined ? { authorization } : {}), request }];
      });
    },
  };
}

export interface ManagedIdentityFake extends LoopbackServer {
  /** The value for `IDENTITY_ENDPOINT`. */
  readonly endpoint: string;
  setToken(token: string): void;
  setFailing(failing: boolean): void;
}

/**
 * The App Service / Container Apps managed-identity endpoint (`IDENTITY_ENDPOINT` +
 * `IDENTITY_HEADER`, api-version 2019-08-01): a token for `resource` when the header matches.
 */
export async function startManagedIdentity(opts: { token: string; identityHeader: string }): Promise<ManagedIdentityFake> {
  let token = opts.token;
  let failing = false;
  const server = await startLoopbackServer((req, res) => {
    if (req.headers['x-identity-header'] !== opts.identityHeader) {
      sendJson(res, 401, { error: 'unauthorized', error_description: 'bad x-identity-header' });
      return;
    }
    if (failing) {
      sendJson(res, 400, { error: 'invalid_request', error_description: 'Identity not found' });
      return;
    }
    const resource = new URL(req.url, 'http://x').searchParams.get('resource') ?? '';
    sendJson(res, 200, {
      access_token: token,
      expires_on: String(Math.floor(Date.now() / 1000) + 3600),
      resource,
      token_type: 'Bearer',
    });
  });
  return {
    ...server,
    close: server.close,
    endpoint: `${server.url}/msi/token`,
    setToken(value) {
      token = value;
    },
    setFailing(value) {
      failing = value;
    },
  };
}
