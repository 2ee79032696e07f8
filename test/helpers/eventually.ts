/**
 * Polls `check` every `intervalMs` (a few ms by default) until it holds; fails after `timeoutMs`
 * (a bound, not a timing assertion).
 */
export async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000, intervalMs = 10): Promise<void> {
  const give = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > give) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
