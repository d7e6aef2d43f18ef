import { SessionStoreError } from "@sessionbridge/core";

/** What a loader is given. */
export interface LoaderContext {
  /** The cache key being loaded. */
  key: string;
  /** Aborted when the loader's deadline (`loaderTimeoutMs`) passes: hand it to the database client. */
  signal: AbortSignal;
}

/** Reads the value from the source of truth; resolves `undefined` for "not found". */
export type Loader<V> = (context: LoaderContext) => Promise<V | undefined> | V | undefined;

/** Runs the loader under its deadline. A loader that throws synchronously rejects like one that rejects. */
export function runLoader<V>(key: string, loader: Loader<V>, timeoutMs: number): Promise<V | undefined> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new SessionStoreError("TIMEOUT", `cache: a loader did not finish within ${timeoutMs} ms — the database is slow or unreachable; raise loaderTimeoutMs only if it is merely slow`);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
    timer.unref?.();
  });
  let work: Promise<V | undefined>;
  try {
    work = Promise.resolve(loader({ key, signal: controller.signal }));
  } catch (error) {
    clearTimeout(timer);
    return Promise.reject(error);
  }
  work.catch(() => undefined); // a late rejection after the deadline is not an unhandled rejection
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
