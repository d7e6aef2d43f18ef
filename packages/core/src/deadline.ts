import { SessionStoreError } from "./errors.js";

/**
 * Runs `work` under a deadline. The timer is unref'd and always cleared, so a settled operation leaves
 * nothing behind. A late result from the backend is dropped; a late rejection is swallowed so it never
 * becomes an unhandled rejection.
 */
export function withDeadline<T>(work: Promise<T>, timeoutMs: number, what: string, backend: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new SessionStoreError(
          "TIMEOUT",
          `${backend}: ${what} did not finish within ${timeoutMs} ms — the server is slow, hung or unreachable; raise timeoutMs only if it is merely slow`,
          { backend },
        ),
      );
    }, timeoutMs);
    timer.unref?.();
  });
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
