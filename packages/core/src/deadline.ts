import { SessionStoreError } from "./errors.js";

function timeoutError(timeoutMs: number, what: string, backend: string): SessionStoreError {
  return new SessionStoreError(
    "TIMEOUT",
    `${backend}: ${what} did not finish within ${timeoutMs} ms — the server is slow, hung or unreachable; raise timeoutMs only if it is merely slow`,
    { backend },
  );
}

/**
 * Runs `work` under a deadline. The timer is unref'd and always cleared, so a settled operation leaves
 * nothing behind. A late result from the backend is dropped; a late rejection is swallowed so it never
 * becomes an unhandled rejection. For one-off operations (close); the store's operations use {@link Deadlines}.
 */
export function withDeadline<T>(work: Promise<T>, timeoutMs: number, what: string, backend: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError(timeoutMs, what, backend)), timeoutMs);
    timer.unref?.();
  });
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

interface Pending {
  at: number;
  what: string;
  done: boolean;
  reject: (error: unknown) => void;
}

/** Settled entries at the front are dropped at once; the array is compacted once this many are behind us. */
const COMPACT_AFTER = 1024;

/**
 * Deadlines for every operation of one store. All of them share one `timeoutMs`, so they expire in the
 * order they started: a FIFO and a single timer armed for the oldest unsettled one serve them all. A
 * timer, a `Promise.race` and a `finally` per operation cost more CPU than the rest of a session read.
 *
 * An operation that misses its deadline rejects with TIMEOUT; its late result is dropped and a late
 * rejection swallowed (never an unhandled rejection).
 */
export class Deadlines {
  private queue: Pending[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly timeoutMs: number,
    private readonly backend: string,
  ) {}

  run<T>(what: string, operation: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = { at: Date.now() + this.timeoutMs, what, done: false, reject };
      let work: Promise<T>;
      try {
        work = operation();
      } catch (error) {
        reject(error);
        return;
      }
      this.queue.push(pending);
      if (this.timer === undefined) this.arm(this.timeoutMs);
      work.then(
        (value) => {
          if (this.settle(pending)) resolve(value);
        },
        (error: unknown) => {
          if (this.settle(pending)) reject(error);
        },
      );
    });
  }

  /** Marks an operation settled; false when its deadline had already rejected it. */
  private settle(pending: Pending): boolean {
    if (pending.done) return false;
    pending.done = true;
    this.dropSettled();
    return true;
  }

  private dropSettled(): void {
    const queue = this.queue;
    while (this.head < queue.length && (queue[this.head] as Pending).done) this.head++;
    if (this.head === queue.length) {
      queue.length = 0;
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER && this.head * 2 >= queue.length) {
      this.queue = queue.slice(this.head);
      this.head = 0;
    }
  }

  private arm(delayMs: number): void {
    this.timer = setTimeout(() => this.expire(), Math.max(1, delayMs));
    this.timer.unref?.();
  }

  private expire(): void {
    this.timer = undefined;
    const now = Date.now();
    const queue = this.queue;
    while (this.head < queue.length) {
      const pending = queue[this.head] as Pending;
      if (!pending.done) {
        if (pending.at > now) break;
        pending.done = true;
        pending.reject(timeoutError(this.timeoutMs, pending.what, this.backend));
      }
      this.head++;
    }
    this.dropSettled();
    const next = this.queue[this.head];
    if (next !== undefined) this.arm(next.at - now);
  }
}
