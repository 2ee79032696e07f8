import type { ServerResponse } from 'node:http';
import type { FakeFailure } from './failure.ts';
import { type LoopbackServer, type RecordedRequest, sendJson, sendTruncated, startLoopbackServer } from './server.ts';

/**
 * A loopback GCP Secret Manager (REST, what `fallback: true` sends):
 * `GET /v1/projects/{p}/secrets/{s}/versions/{v}:access`, success
 * `{"name", "payload": {"data": <base64>}}`, errors `{"error": {"code", "message", "status"}}`
 * (research §2.2).
 */

const ACCESS_PATH = /^\/v1\/projects\/([^/]+)\/secrets\/([^/]+)\/versions\/([^/:]+):access(?:\?.*)?$/;

interface StoredSecret {
  versions: Map<number, string>;
  failure?: FakeFailure;
}

export interface GcpSecretManagerFake extends LoopbackServer {
  /** Adds a version (1, 2, ...) holding `value` to `project/name`. */
  put(project: string, name: string, value: string): number;
  fail(project: string, name: string, failure: FakeFailure | undefined): void;
  /** Projects whose Secret Manager API is disabled: every call there is a SERVICE_DISABLED 403. */
  disableApi(project: string): void;
  calls(): Array<{ project: string; secret: string; version: string; request: RecordedRequest }>;
}

function googleError(res: ServerResponse, http: number, status: string, message: string, details?: unknown[]): void {
  sendJson(res, http, { error: { code: http, message, status, ...(details ? { details } : {}) } });
}

export async function startGcpSecretManager(): Promise<GcpSecretManagerFake> {
  const secrets = new Map<string, StoredSecret>();
  const disabled = new Set<string>();
  const key = (project: string, name: string) => `${project}/${name}`;

  const server = await startLoopbackServer((req, res) => {
    const match = ACCESS_PATH.exec(req.url);
    if (req.method !== 'GET' || !match) {
      googleError(res, 404, 'NOT_FOUND', `fake only serves AccessSecretVersion, not ${req.method} ${req.url}`);
      return;
    }
    const [, project = '', name = '', version = ''] = match;
    const resource = `projects/${project}/secrets/${name}/versions/${version}`;
    if (disabled.has(project)) {
      googleError(res, 403, 'PERMISSION_DENIED', `Secret Manager API has not been used in project ${project} before or it is disabled.`, [
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: 'SERVICE_DISABLED',
          domain: 'googleapis.com',
          metadata: { service: 'secretmanager.googleapis.com', consumer: `projects/${project}` },
        },
      ]);
      return;
    }
    const secret = secrets.get(key(project, name));
    const denied = () =>
      googleError(res, 403, 'PERMISSION_DENIED', `Permission 'secretmanager.versions.access' denied for resource '${resource}' (or it may not exist).`);
    if (!secret) {
      // The real service answers a caller who cannot see the project exactly like this.
      denied();
      return;
    }
    switch (secret.failure) {
      case 'not_found':
        googleError(res, 404, 'NOT_FOUND', `Secret [projects/${project}/secrets/${name}] not found or has no versions.`);
        return;
      case 'denied':
        denied();
        return;
      case 'unauthenticated':
        googleError(res, 401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token.');
        return;
      case 'server_error':
        googleError(res, 500, 'INTERNAL', 'Internal error encountered.');
        return;
      case 'hang':
        return;
      case 'non_json':
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html><body>Welcome to the proxy</body></html>');
        return;
      case 'disabled':
        googleError(res, 400, 'FAILED_PRECONDITION', `Secret Version [${resource}] is in DISABLED state.`);
        return;
      case 'truncated':
      case undefined:
        break;
    }
    const numbers = [...secret.versions.keys()];
    const wanted = version === 'latest' ? Math.max(...numbers) : Number(version);
    const value = secret.versions.get(wanted);
    if (value === undefined) {
      googleError(res, 404, 'NOT_FOUND', `Secret Version [${resource}] not found.`);
      return;
    }
    const body = {
      name: `projects/123456789/secrets/${name}/versions/${wanted}`,
      // Plain text in the truncated variant so a leak of the raw body shows in the test (base64 would hide it).
      payload: { data: secret.failure === 'truncated' ? value : Buffer.from(value, 'utf8').toString('base64') },
    };
    if (secret.failure === 'truncated') sendTruncated(res, body);
    else sendJson(res, 200, body);
  });

  return {
    ...server,
    close: server.close,
    put(project, name, value) {
      const secret: StoredSecret = secrets.get(key(project, name)) ?? { versions: new Map() };
      secrets.set(key(project, name), secret);
      const next = secret.versions.size + 1;
      secret.versions.set(next, value);
      return next;
    },
    fail(project, name, failure) {
      const secret: StoredSecret = secrets.get(key(project, name)) ?? { versions: new Map() };
      secrets.set(key(project, name), secret);
      if (failure === undefined) delete secret.failure;
      else secret.failure = failure;
    },
    disableApi(project) {
      disabled.add(project);
    },
    calls() {
      return server.requests.flatMap((request) => {
        const m = ACCESS_PATH.exec(request.url);
        return m ? [{ project: m[1] ?? '', secret: m[2] ?? '', version: m[3] ?? '', request }] : [];
      });
    },
  };
}

export interface GceMetadataFake extends LoopbackServer {
  /** The value for `GCE_METADATA_HOST` (host:port, no scheme). */
  readonly host: string;
  setToken(token: string): void;
  /** Make the token endpoint fail, as when the node's service account has no token to give. */
  setFailing(failing: boolean): void;
}

/**
 * The GCE/GKE/Cloud Run metadata server (`GCE_METADATA_HOST`). google-auth-library refuses any
 * answer without `Metadata-Flavor: Google`, so every response carries it.
 */
export async function startGceMetadata(opts: { token: string; projectId: string }): Promise<GceMetadataFake> {
  let token = opts.token;
  let failing = false;
  const flavor = { 'metadata-flavor': 'Google' };
  const text = (res: ServerResponse, status: number, body: string) => {
    res.writeHead(status, { ...flavor, 'content-type': 'application/text' });
    res.end(body);
  };
  const server = await startLoopbackServer((req, res) => {
    if (req.headers['metadata-flavor'] !== 'Google') {
      text(res, 403, 'Missing Metadata-Flavor:Google header.');
      return;
    }
    const path = req.url.split('?')[0];
    switch (path) {
      case '/computeMetadata/v1/instance':
      case '/computeMetadata/v1/instance/':
        text(res, 200, '');
        return;
      case '/computeMetadata/v1/project/project-id':
        text(res, 200, opts.projectId);
        return;
      case '/computeMetadata/v1/universe/universe-domain':
        text(res, 200, 'googleapis.com');
        return;
      case '/computeMetadata/v1/instance/service-accounts/default/token':
        if (failing) {
          text(res, 500, 'Could not fetch URI /computeMetadata/v1/instance/service-accounts/default/token');
          return;
        }
        sendJson(res, 200, { access_token: token, expires_in: 3599, token_type: 'Bearer' }, flavor);
        return;
      default:
        text(res, 404, 'Not found');
    }
  });
  return {
    ...server,
    close: server.close,
    host: `127.0.0.1:${server.port}`,
    setToken(value) {
      token = value;
    },
    setFailing(value) {
      failing = value;
    },
  };
}
