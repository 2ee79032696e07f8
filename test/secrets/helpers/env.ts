/**
 * Sets environment variables for the SDKs' default credential chains and restores them after.
 * Each vitest file runs in its own process (pool 'forks'), so changes never leak across files;
 * restoring still keeps tests within a file independent.
 */
export function setEnv(vars: Record<string, string | undefined>): () => void {
  const saved = new Map<string, string | undefined>();
  for (const [name, value] of Object.entries(vars)) {
    saved.set(name, process.env[name]);
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  return () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

/**
 * Variables that would steer a default chain somewhere other than the loopback fakes: real
 * profiles, IMDS, metadata servers, developer tools. Tests unset all of them first.
 */
export const CLOUD_ENV_VARS = [
  'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_DEFAULT_PROFILE',
  'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_SECRETS_MANAGER',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_ROLE_ARN', 'AWS_EC2_METADATA_SERVICE_ENDPOINT',
  'GOOGLE_APPLICATION_CREDENTIALS', 'GOOGLE_CLOUD_PROJECT', 'GCLOUD_PROJECT', 'CLOUDSDK_CONFIG', 'GCE_METADATA_HOST',
  'GCE_METADATA_IP', 'METADATA_SERVER_DETECTION',
  'AZURE_CLIENT_ID', 'AZURE_TENANT_ID', 'AZURE_CLIENT_SECRET', 'AZURE_CLIENT_CERTIFICATE_PATH', 'AZURE_USERNAME',
  'AZURE_PASSWORD', 'AZURE_FEDERATED_TOKEN_FILE', 'AZURE_AUTHORITY_HOST', 'AZURE_TOKEN_CREDENTIALS', 'IDENTITY_ENDPOINT',
  'IDENTITY_HEADER', 'IDENTITY_SERVER_THUMBPRINT', 'IMDS_ENDPOINT', 'MSI_ENDPOINT', 'MSI_SECRET',
] as const;

/** Settings that keep every default chain off the network unless a test points it at a fake. */
export function offlineDefaults(home: string): Record<string, string> {
  return {
    HOME: home,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: `${home}/nonexistent/aws-config`,
    AWS_SHARED_CREDENTIALS_FILE: `${home}/nonexistent/aws-credentials`,
    METADATA_SERVER_DETECTION: 'none',
    // The narrowest Azure chain that needs no network: fails at once when nothing is set.
    AZURE_TOKEN_CREDENTIALS: 'EnvironmentCredential',
  };
}

/** In this process: every cloud variable unset, then offlineDefaults, then the test's own settings. */
export function isolatedCloudEnv(home: string, overrides: Record<string, string | undefined>): () => void {
  const cleared = Object.fromEntries(CLOUD_ENV_VARS.map((n) => [n, undefined]));
  return setEnv({ ...cleared, ...offlineDefaults(home), ...overrides });
}
