import { systemClock, type Clock } from '../clock.ts';
import { EXIT, StartupError } from '../config/errors.ts';
import { datadogBaseUrl, effectiveSite, loadConfig, type LoadInputs } from '../config/load.ts';
import { createDatadogTransport } from '../datadog/client.ts';
import { validateKeys } from '../datadog/validate.ts';
import { createSecretSource, fetchWithDeadline } from '../secrets/source.ts';
import { type DatadogCredentials, SecretsBootError } from '../secrets/types.ts';
import { VERSION } from '../version.ts';
import { checkOnce, describeSite, KEY_CHECK_TIMEOUT_MS, verdictDetail } from './key-check.ts';

/**
 * `tinkr-server --check` (docs/configuration.md#checking-a-configuration): everything the server
 * needs before it can serve, checked once, without listening: the configuration, the secrets, and
 * whether Datadog accepts the keys. Prints one line per step (never a secret) and returns the exit
 * code: 0 all good, 78 the configuration, a secret or the keys were rejected, 69 a secret manager
 * or Datadog unreachable.
 */

export interface CheckOptions {
  clock?: Clock;
  /** Bound on the key check; default KEY_CHECK_TIMEOUT_MS. */
  keyTimeoutMs?: number;
}

/** Column the verdicts start at: the step names are short. */
const LABEL_WIDTH = 14;
const line = (step: string, verdict: string): string => `  ${step.padEnd(LABEL_WIDTH)}${verdict}\n`;

export async function runCheck(inputs: LoadInputs, write: (text: string) => void, options: CheckOptions = {}): Promise<number> {
  const clock = options.clock ?? systemClock;
  write('tinkr-server --check\n');

  let config;
  try {
    config = loadConfig(inputs);
  } catch (error) {
    if (!(error instanceof StartupError)) throw error;
    write(line('configuration', `error: ${error.message}`));
    return error.exitCode;
  }
  write(line('configuration', `ok: ${config.source}, profile ${config.profileName}`));

  let keys: DatadogCredentials;
  const creds = config.datadog.credentials;
  if (creds.kind === 'static') {
    keys = { apiKey: creds.apiKey, appKey: creds.appKey };
    write(line('secrets', 'ok: the keys come from the environment'));
  } else {
    const source = createSecretSource(creds.secrets);
    try {
      keys = await fetchWithDeadline(source, creds.secrets.timeout_ms, clock);
    } catch (error) {
      if (!(error instanceof SecretsBootError)) throw error;
      write(line('secrets', `${error.exitCode === EXIT.unavailable ? 'unreachable' : 'error'}: ${error.message}`));
      return error.exitCode;
    } finally {
      await source.close();
    }
    write(line('secrets', `ok: ${source.describe()}`));
  }

  const site = effectiveSite(config.datadog, keys.site);
  const where = describeSite({ site, apiUrl: config.datadog.apiUrl });
  const transport = createDatadogTransport({ baseUrl: datadogBaseUrl(config.datadog, site), userAgent: `tinkr-server/${VERSION}` });
  try {
    const verdict = await checkOnce((used, signal) => validateKeys(transport, used, signal, clock.now()), keys, clock, options.keyTimeoutMs ?? KEY_CHECK_TIMEOUT_MS);
    switch (verdict.outcome) {
      case 'accepted':
        write(line('Datadog keys', `ok: accepted by ${where}`));
        write('all good\n');
        return EXIT.ok;
      case 'rejected':
        write(line('Datadog keys', `rejected: ${where} refused ${verdictDetail(verdict)}; check ${verdict.key === 'api' ? 'DD_API_KEY' : 'DD_APP_KEY'} and the site`));
        return EXIT.config;
      case 'unreachable':
        write(line('Datadog keys', `unreachable: ${where}: ${verdict.reason}`));
        return EXIT.unavailable;
    }
  } finally {
    await transport.close();
  }
}
