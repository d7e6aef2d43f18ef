import { SessionStoreError } from "./errors.js";

/**
 * What an operation run within what was left of a request's budget is called in its TIMEOUT error. Built
 * only when the error is: composing it for every such operation cost more than the unchanged save it
 * named (a template string of ~60 characters per rolling read, issue 12).
 */
export function restOfBudget(what: string, budgetMs: number): string {
  return `${what} (the rest of this request's ${budgetMs} ms for the store)`;
}

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

/**
 * Called once when an operation run with it settles — by its work or by its deadline — before the
 * caller sees the outcome: `failed` false on success; else it gets the error and returns the error to
 * reject with. `tag` is what `run` was given with it. Must not throw. It lets the store do its own
 * bookkeeping (operations in flight, error mapping, a request's budget) in the callbacks that settle the
 * deadline, instead of one more `then` per operation (issue 12).
 */
export type SettleHook<Tag> = (failed: boolean, error: unknown, what: string, tag: Tag) => unknown;

interface Pending {
  at: number;
  what: string;
  timeoutMs: number;
  /** Set for an operation run within what was left of a request's budget of this many ms (see restOfBudget). */
  budgetMs: number | undefined;
  done: boolean;
  reject: (error: unknown) => void;
  settle: SettleHook<unknown> | undefined;
  tag: unknown;
}

/** Settled entries at the front are dropped at once; the array is compacted once this many are behind us. */
const COMPACT_AFTER = 1024;

/**
 * Deadlines for every operation of one store, with one timer for all of them. Most share the store's
 * `timeoutMs`, so they expire in the order they started: a FIFO, and the timer armed for the earliest
 * deadline. An operation may bring a shorter one (what is left of its request's budget,
 * request-budget.ts); the timer is then re-armed earlier, and an expiry scans the live entries. A timer,
 * a `Promise.race` and a `finally` per operation cost more CPU than the rest of a session read.
 *
 * An operation that misses its deadline rejects with TIMEOUT; its late result is dropped and a late
 * rejection swallowed (never an unhandled rejection).
 */
export class Deadlines {
  /** Live entries from `head` on; the slots behind it are cleared (undefined). */
  private queue: Array<Pending | undefined> = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (epoch ms). */
  private armedAt = 0;

  constructor(
    readonly timeoutMs: number,
    private readonly backend: string,
  ) {}

  /**
   * Runs `operation` under the store's deadline, or under `timeoutMs` when given (never longer than the
   * store's): what is left of a request's budget of `budgetMs`, which its TIMEOUT error then names.
   * `settle` (with `tag`) sees the outcome first, see {@link SettleHook}.
   */
  run<T, Tag = undefined>(what: string, operation: () => Promise<T>, timeoutMs = this.timeoutMs, budgetMs?: number, settle?: SettleHook<Tag>, tag?: Tag): Promise<T> {
    // The executor is one shared function, not a closure per operation (see captureSettlers).
    const promise = new Promise<T>(captureSettlers);
    const resolve = capturedResolve as (value: T) => void;
    const reject = capturedReject as (error: unknown) => void;
    capturedResolve = capturedReject = undefined;
    const at = Date.now() + timeoutMs;
    const pending: Pending = { at, what, timeoutMs, budgetMs, done: false, reject, settle: settle as SettleHook<unknown> | undefined, tag };
    let work: Promise<T>;
    try {
      work = operation();
    } catch (error) {
      pending.done = true;
      reject(failure(pending, error));
      return promise;
    }
    this.queue.push(pending);
    if (this.timer === undefined) this.arm(at);
    else if (at < this.armedAt) {
      clearTimeout(this.timer);
      this.arm(at);
    }
    work.then(
      (value) => {
        if (!this.settle(pending)) return;
        pending.settle?.(false, undefined, what, pending.tag);
        release(pending);
        resolve(value);
      },
      (error: unknown) => {
        if (!this.settle(pending)) return;
        const failed = failure(pending, error);
        release(pending);
        reject(failed);
      },
    );
    return promise;
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
    // Each settled entry the head passes is cleared from the array at once, not when it is compacted.
    while (this.head < queue.length && (queue[this.head] as Pending).done) queue[this.head++] = undefined;
    if (this.head === queue.length) {
      queue.length = 0;
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER && this.head * 2 >= queue.length) {
      this.queue = queue.slice(this.head);
      this.head = 0;
    }
  }

  private arm(at: number): void {
    this.armedAt = at;
    this.timer = setTimeout(() => this.expire(), Math.max(1, at - Date.now()));
    this.timer.unref?.();
  }

  /** Rejects every live entry whose deadline has passed, then arms the timer for the earliest one left. */
  private expire(): void {
    this.timer = undefined;
    const now = Date.now();
    let next = Infinity;
    for (let i = this.head; i < this.queue.length; i++) {
      const pending = this.queue[i] as Pending;
      if (pending.done) continue;
      if (pending.at <= now) {
        pending.done = true;
        const reject = pending.reject;
        const failed = failure(pending, timeoutError(pending.timeoutMs, pending.budgetMs === undefined ? pending.what : restOfBudget(pending.what, pending.budgetMs), this.backend));
        release(pending);
        reject(failed);
      } else if (pending.at < next) next = pending.at;
    }
    this.dropSettled();
    if (next !== Infinity) this.arm(next);
  }
}

const ignore = (): void => undefined;

/**
 * `run`'s promise executor: it leaves the promise's resolve and reject functions here, and `run` takes
 * them at once (the executor runs synchronously inside `new Promise`). An arrow function as the executor
 * was a closure and a context more per operation.
 */
let capturedResolve: ((value: never) => void) | undefined;
let capturedReject: ((error: unknown) => void) | undefined;
function captureSettlers(resolve: (value: never) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/**
 * Lets go of what a settled entry references: its `reject` holds the operation's promise, and so its
 * result (a session with its data and stored body), and `tag` a request's budget. An entry stays in the
 * queue until every older one has settled, and under steady load that was a thousand operations' results
 * kept alive: they survived young-generation collections and were promoted (a Koa write app's heap 70–84
 * MB against 26–39 with this, scavenges 4–6 ms against ~2).
 */
function release(pending: Pending): void {
  pending.reject = ignore;
  pending.settle = undefined;
  pending.tag = undefined;
}

/** The error an operation rejects with: its settle hook's answer, when it has one. */
function failure(pending: Pending, error: unknown): unknown {
  return pending.settle === undefined ? error : pending.settle(true, error, pending.what, pending.tag);
}
