/**
 * Runs `work` for every item of `items` with at most `concurrency` at once and, with `perSecond`, no
 * faster than that many starts per second (evenly spaced), so a bulk job leaves room for production
 * traffic. Stops at the first rejection of `work` (after the ones in flight finish) and rethrows it.
 * With `signal`, an abort starts nothing more and resolves once the work in flight has finished, so the
 * caller's totals are exact when it saves them.
 */
export async function paced<T>(items: AsyncIterable<T>, options: { concurrency: number; perSecond?: number | undefined; signal?: AbortSignal | undefined }, work: (item: T) => Promise<void>): Promise<void> {
  const { signal } = options;
  const interval = options.perSecond === undefined ? 0 : 1000 / options.perSecond;
  const started = Date.now();
  let count = 0;
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  const stopped = () => signal?.aborted === true;
  const aborted = new Promise<void>((resolve) => signal?.addEventListener("abort", () => resolve(), { once: true }));
  for await (const item of items) {
    if (failure !== undefined || stopped()) break;
    if (interval > 0) {
      const due = started + count * interval - Date.now();
      if (due > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([new Promise((resolve) => (timer = setTimeout(resolve, due))), aborted]);
        clearTimeout(timer);
        if (stopped()) break;
      }
    }
    count++;
    const task = work(item).catch((error: unknown) => {
      failure ??= { error };
    });
    const tracked = task.finally(() => running.delete(tracked));
    running.add(tracked);
    if (running.size >= options.concurrency) await Promise.race(running);
  }
  await Promise.all(running);
  if (failure !== undefined) throw failure.error;
}
