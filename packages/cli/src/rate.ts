/**
 * Runs `work` for every item of `items` with at most `concurrency` at once and, with `perSecond`, no
 * faster than that many starts per second (evenly spaced), so a bulk job leaves room for production
 * traffic. Stops at the first rejection of `work` (after the ones in flight finish) and rethrows it.
 */
export async function paced<T>(items: AsyncIterable<T>, options: { concurrency: number; perSecond?: number | undefined }, work: (item: T) => Promise<void>): Promise<void> {
  const interval = options.perSecond === undefined ? 0 : 1000 / options.perSecond;
  const started = Date.now();
  let count = 0;
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  for await (const item of items) {
    if (failure !== undefined) break;
    if (interval > 0) {
      const due = started + count * interval - Date.now();
      if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
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
