import { eventually } from './eventually.ts';

/**
 * Waits until the server at `url` answers `/readyz` 200 and returns that answer. A server
 * reports ready only once Datadog has accepted its keys, which happens some time after it
 * logs "listening": tests poll instead of assuming. `onPoll` runs before each poll (a test on
 * an injected clock advances it there, so back-off re-checks come round).
 */
export async function untilReady(url: string, options: { timeoutMs?: number; onPoll?: () => void } = {}): Promise<Record<string, any>> {
  let body: Record<string, any> | undefined;
  await eventually(
    async () => {
      options.onPoll?.();
      const res = await fetch(`${url}/readyz`);
      if (res.status !== 200) {
        await res.body?.cancel();
        return false;
      }
      body = (await res.json()) as Record<string, any>;
      return true;
    },
    `${url}/readyz answers 200`,
    options.timeoutMs ?? 30_000,
  );
  return body!;
}

/** Waits until `/readyz` answers 503 with a detail matching `detail`, and returns the problem. */
export async function untilNotReady(url: string, detail: RegExp, options: { timeoutMs?: number; onPoll?: () => void } = {}): Promise<Record<string, any>> {
  let problem: Record<string, any> | undefined;
  await eventually(
    async () => {
      options.onPoll?.();
      const res = await fetch(`${url}/readyz`);
      const body = (await res.json()) as Record<string, any>;
      if (res.status !== 503 || !detail.test(String(body.detail))) return false;
      problem = body;
      return true;
    },
    `${url}/readyz answers 503 matching ${detail}`,
    options.timeoutMs ?? 30_000,
  );
  return problem!;
}
