/**
 * Polls `check` until it returns true, instead of sleeping for a guessed time. A check that throws counts
 * as "not yet" (a server may still be starting); the last error is reported if time runs out.
 */
export async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000, intervalMs = 50): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > until) throw new Error(`${what}: not reached within ${timeoutMs} ms${last instanceof Error ? ` (last error: ${last.message})` : ""}`, { cause: last });
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
