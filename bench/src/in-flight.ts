/**
 * The load core-cost and server-cost put on a store: `total` requests, 50 in flight, over the same 500
 * session ids in turn. `measure` reads a CPU counter (µs) before and after; the result is µs per request.
 */
export const SESSION_IDS = Array.from({ length: 500 }, (_, i) => `sess-${i}-abcdefghijklmnopqrstuvwx`);

export async function microsPerRequest(row: (id: string) => Promise<void>, total: number, measure: () => number): Promise<number> {
  let next = 0;
  let left = total;
  const worker = async () => {
    while (left-- > 0) await row(SESSION_IDS[next++ % SESSION_IDS.length] as string);
  };
  const before = measure();
  await Promise.all(Array.from({ length: 50 }, worker));
  return (measure() - before) / total;
}

/** A Node-style callback call (express-session stores) as a promise. */
export function callback<T>(run: (done: (error?: unknown, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => run((error, value) => (error ? reject(error) : resolve(value as T))));
}
