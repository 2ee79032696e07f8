import type { ServerResponse } from 'node:http';
import type { FakeFailure } from './failure.ts';
import { type LoopbackServer, type RecordedRequest, sendJson, sendTruncated, startLoopbackServer } from './server.ts';

/**
 * A loopback AWS Secrets Manager speaking what `@aws-sdk/client-secrets-manager` sends:
 * `POST /` with `x-amz-target: secretsmanager.GetSecretValue`, awsJson1_1 bodies, errors as
 * `{"__type": ..., "message": ...}` with status 400 (research §2.1).
 */

const ACCOUNT = '000000000000';
const JSON_11 = 'application/x-amz-json-1.1';

interface StoredVersion {
  versionId: string;
  stages: string[];
  secretString?: string;
  secretBinary?: Uint8Array;
}

interface StoredSecret {
  name: string;
  arn: string;
  versions: StoredVersion[];
  failure?: FakeFailure;
}

export interface PutOptions {
  versionId?: string;
  stages?: string[];
  /** Store bytes (`SecretBinary`) instead of a string. */
  binary?: boolean;
}

export interface AwsSecretsManagerFake extends LoopbackServer {
  readonly region: string;
  /** `arn:aws:secretsmanager:<region>:000000000000:secret:<name>-AbCdEf` for a stored name. */
  arnOf(name: string): string;
  /** Stores a version; `value` undefined stores a version with neither SecretString nor SecretBinary. */
  put(name: string, value: string | undefined, options?: PutOptions): void;
  fail(name: string, failure: FakeFailure | undefined): void;
  /**
   * Holds every GetSecretValue answer until the returned function is called, so a test can
   * see what arrives while a fetch is in flight (single-flight under concurrent load).
   */
  hold(): () => void;
  /** The GetSecretValue requests, parsed. */
  calls(): Array<{ secretId: string; versionStage?: string; versionId?: string; region?: string; request: RecordedRequest }>;
}

let versionCounter = 0;
function newVersionId(): string {
  versionCounter += 1;
  return `0000000${versionCounter}-aaaa-4bbb-8ccc-dddddddddddd`.slice(-36);
}

/** The region the SigV4 `authorization` header was scoped to (`Credential=AKID/date/REGION/...`). */
function signingRegion(req: RecordedRequest): string | undefined {
  const auth = req.headers.authorization;
  return typeof auth === 'string' ? /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(auth)?.[1] : undefined;
}

function awsError(res: ServerResponse, type: string, message: string, status = 400): void {
  sendJson(res, status, { __type: type, message }, { 'content-type': JSON_11, 'x-amzn-requestid': 'fake-request' });
}

export async function startAwsSecretsManager(options: { region?: string } = {}): Promise<AwsSecretsManagerFake> {
  const region = options.region ?? 'eu-west-1';
  const secrets = new Map<string, StoredSecret>();
  const arnOf = (name: string) => `arn:aws:secretsmanager:${region}:${ACCOUNT}:secret:${name}-AbCdEf`;
  const lookup = (id: string) => secrets.get(id) ?? [...secrets.values()].find((s) => s.arn === id);
  let held: Promise<void> | undefined;

  const server = await startLoopbackServer(async (req, res) => {
    if (held) await held;
    if (req.method !== 'POST' || req.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue') {
      awsError(res, 'UnknownOperationException', 'fake only serves GetSecretValue');
      return;
    }
    const scoped = signingRegion(req);
    if (scoped !== undefined && scoped !== region) {
      // What an endpoint in one region says to a request signed for another.
      awsError(res, 'InvalidSignatureException', `Credential should be scoped to a valid region, not '${scoped}'.`);
      return;
    }
    const request = JSON.parse(req.body) as { SecretId: string; VersionStage?: string; VersionId?: string };
    const secret = lookup(request.SecretId);
    if (!secret) {
      awsError(res, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
      return;
    }
    switch (secret.failure) {
      case 'not_found':
        awsError(res, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
        return;
      case 'denied':
        awsError(
          res,
          'AccessDeniedException',
          `User: arn:aws:sts::${ACCOUNT}:assumed-role/task/x is not authorized to perform: secretsmanager:GetSecretValue on resource: ${request.SecretId}`,
        );
        return;
      case 'unauthenticated':
        awsError(res, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
        return;
      case 'server_error':
        awsError(res, 'InternalServiceError', 'An error occurred on the server side.', 500);
        return;
      case 'hang':
        return;
      case 'non_json':
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html><body>Welcome to the proxy</body></html>');
        return;
      case 'disabled':
        awsError(res, 'InvalidRequestException', "You can't perform this operation on the secret because it was marked for deletion.");
        return;
      case 'truncated':
      case undefined:
        break;
    }
    const version = request.VersionId
      ? secret.versions.find((v) => v.versionId === request.VersionId)
      : secret.versions.find((v) => v.stages.includes(request.VersionStage ?? 'AWSCURRENT'));
    if (!version) {
      awsError(res, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret value for staging label or version.");
      return;
    }
    const body = {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.versionId,
      VersionStages: version.stages,
      CreatedDate: 1_764_043_200.123,
      ...(version.secretString !== undefined ? { SecretString: version.secretString } : {}),
      ...(version.secretBinary !== undefined ? { SecretBinary: Buffer.from(version.secretBinary).toString('base64') } : {}),
    };
    if (secret.failure === 'truncated') {
      sendTruncated(res, body, JSON_11);
      return;
    }
    sendJson(res, 200, body, { 'content-type': JSON_11 });
  });

  return {
    ...server,
    close: server.close,
    region,
    arnOf,
    put(name, value, putOptions = {}) {
      const secret = secrets.get(name) ?? { name, arn: arnOf(name), versions: [] };
      secrets.set(name, secret);
      const stages = putOptions.stages ?? ['AWSCURRENT'];
      // A stage names one version at a time, as in the real service.
      for (const v of secret.versions) v.stages = v.stages.filter((s) => !stages.includes(s));
      const version: StoredVersion = { versionId: putOptions.versionId ?? newVersionId(), stages };
      if (value !== undefined) {
        if (putOptions.binary) version.secretBinary = Buffer.from(value, 'utf8');
        else version.secretString = value;
      }
      secret.versions.push(version);
    },
    hold() {
      let release = () => {};
      held = new Promise<void>((resolve) => {
        release = () => {
          held = undefined;
          resolve();
        };
      });
      return release;
    },
    fail(name, failure) {
      const secret = secrets.get(name) ?? { name, arn: arnOf(name), versions: [] };
      secrets.set(name, secret);
      if (failure === undefined) delete secret.failure;
      else secret.failure = failure;
    },
    calls() {
      return server.requests
        .filter((r) => r.headers['x-amz-target'] === 'secretsmanager.GetSecretValue')
        .map((request) => {
          const body = JSON.parse(request.body) as { SecretId: string; VersionStage?: string; VersionId?: string };
          const region = signingRegion(request);
          return {
            secretId: body.SecretId,
            ...(body.VersionStage !== undefined ? { versionStage: body.VersionStage } : {}),
            ...(body.VersionId !== undefined ? { versionId: body.VersionId } : {}),
            ...(region !== undefined ? { region } : {}),
            request,
          };
        });
    },
  };
}

export interface ContainerCredentialsFake extends LoopbackServer {
  /** The value for `AWS_CONTAINER_CREDENTIALS_FULL_URI`. */
  readonly fullUri: string;
  /** Make the endpoint refuse (500) or serve credentials again. */
  setFailing(failing: boolean): void;
}

/**
 * The ECS task-role endpoint (`AWS_CONTAINER_CREDENTIALS_FULL_URI` with
 * `AWS_CONTAINER_AUTHORIZATION_TOKEN`): answers only when the authorization token matches.
 */
export async function startContainerCredentials(opts: {
  authorizationToken: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}): Promise<ContainerCredentialsFake> {
  let failing = false;
  const server = await startLoopbackServer((req, res) => {
    if (failing) {
      sendJson(res, 500, { code: 'InternalError', message: 'fake credentials endpoint is failing' });
      return;
    }
    if (req.headers.authorization !== opts.authorizationToken) {
      sendJson(res, 401, { code: 'Unauthorized', message: 'bad authorization token' });
      return;
    }
    sendJson(res, 200, {
      AccessKeyId: opts.accessKeyId,
      SecretAccessKey: opts.secretAccessKey,
      Token: opts.sessionToken,
      Expiration: new Date(Date.now() + 3_600_000).toISOString(),
    });
  });
  return {
    ...server,
    close: server.close,
    fullUri: `${server.url}/v2/credentials/task`,
    setFailing(value) {
      failing = value;
    },
  };
}
