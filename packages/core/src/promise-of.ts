/**
 * Runs `work` and returns its promise; a synchronous throw becomes a rejection, as in an async function.
 * For the per-request paths that chain `then` instead of using async functions (one frame less each):
 * callers of those paths still only ever see rejections.
 */
export function promiseOf<T>(work: () => Promise<T>): Promise<T> {
  try {
    return work();
  } catch (error) {
    return Promise.reject(error);
  }
}
