import { AsyncLocalStorage } from "node:async_hooks";
import { restOfBudget, withDeadline } from "./deadline.js";
import { SessionStoreError } from "./errors.js";
import { promiseOf } from "./promise-of.js";

/**
 * One deadline per HTTP request, shared by every store operation the request makes.
 *
 * Each store operation has its own deadline (`timeoutMs`), but one request may run several: a login
 * destroys the pre-login session and writes the new one, a changed session is loaded and saved. Against
 * a hung backend each would wait its full deadline, so a request could wait two or three times
 * `timeoutMs`. A budget counts the time the request's store operations have taken, together at most
 * `timeoutMs`:
 * - a later operation gets only what is left of it (and fails with TIMEOUT when nothing is);
 * - once an operation of the request failed because the backend is down or hung, the request's next
 *   operations fail at once with that error instead of waiting again.
 * The application's own time between operations (hashing a password, querying its database) is not the
 * store's: it never counts, so a slow page is not answered 503 for an outage that did not happen.
 *
 * Adapters find a request's budget by the framework's request object (`budgetOf(req)`). Store calls that
 * carry no request (`destroy` in express-session and @fastify/session) start a budget of their own that
 * the adapter links to the request later (`linkBudget`), or find it in the async context an entry point
 * opened with {@link runWithBudget} (Express's `saveBeforeResponse()`; AsyncLocalStorage costs every
 * promise of the process a little on Node < 24, so it is not used on the default path).
 */
export interface RequestBudget {
  /** The time the request's store operations have taken so far (ms; overlapping ones both count). */
  spentMs?: number;
  /** The outage (UNAVAILABLE / TIMEOUT / CLOSED) an earlier operation of the request failed with. */
  failure?: unknown;
}

// A WeakMap, not a HiddenSlot: defining a property on Express's request (a large IncomingMessage) cost
// ~2.6 µs per request in a profile of the Express write row, several times the WeakMap entry.
const byRequest = new WeakMap<object, RequestBudget>();
const context = new AsyncLocalStorage<RequestBudget>();

/**
 * The budget of `request` (the framework's request or context object): the one it was linked to, else
 * the one of the current async context, else a new one. Without a request: the async context's, if any.
 */
export function budgetOf(request?: object): RequestBudget | undefined {
  if (request === undefined) return context.getStore();
  let budget = byRequest.get(request);
  if (budget === undefined) {
    budget = context.getStore() ?? {};
    byRequest.set(request, budget);
  }
  return budget;
}

/**
 * Makes `budget` (one an operation started before its request was known) the budget of `request`. When
 * the request has one already, the two join: the earlier end and the first failure count.
 */
export function linkBudget(request: object, budget: RequestBudget): void {
  const own = byRequest.get(request);
  if (own === undefined || own === budget) {
    byRequest.set(request, budget);
    return;
  }
  if (budget.spentMs !== undefined) own.spentMs = (own.spentMs ?? 0) + budget.spentMs;
  own.failure ??= budget.failure;
}

/** Runs the rest of a request (`rest`, e.g. the framework's `next`) with the budget of `request` as its async context. */
export function runWithBudget<T>(request: object, rest: () => T): T {
  return context.run(budgetOf(request) as RequestBudget, rest);
}

/** What {@link withinBudget} needs to know about the store. */
export interface BudgetedStore {
  readonly options: { readonly timeoutMs: number };
  readonly backend: { readonly label: string };
}

/** True for the failures that mean "the backend is down or hung" (as opposed to bad input). */
export function isOutage(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "UNAVAILABLE" || code === "TIMEOUT" || code === "CLOSED";
}

/**
 * A request's budget, handed by {@link withinBudget} to the store operation it starts: set only while
 * `operation()` runs synchronously, and taken by the store when the operation starts (store.ts
 * `operation`). The store then runs the operation under what is left of the budget (one timer entry,
 * instead of a `withDeadline` around it) and counts its time and outage into the budget when it settles
 * (`settleBudget`), in the callbacks it runs anyway: one promise and two closures per operation fewer
 * than a `then` here (issue 12).
 */
export interface BudgetDeadline {
  /** The request's budget, which the operation's time and outage count into. */
  budget: RequestBudget;
  /** When the operation started (epoch ms). */
  startedMs: number;
  /** What is left of the budget (ms): the operation's deadline. The whole budget for a request's first operation. */
  timeoutMs: number;
  /** True when `timeoutMs` is less than the store's own deadline (an earlier operation spent some of it). */
  shortened: boolean;
  /** The operation (`save`, `touch` …). */
  what: string;
  /** The whole budget (the store's `timeoutMs`), for the TIMEOUT error's message. */
  budgetMs: number;
}

let handover: BudgetDeadline | undefined;
let taken = false;

/** For the store: the budget of the operation being started within a request's budget, if any (see {@link BudgetDeadline}). */
export function takeBudgetDeadline(): BudgetDeadline | undefined {
  const deadline = handover;
  handover = undefined;
  if (deadline !== undefined) taken = true;
  return deadline;
}

/** For the store, when an operation it took a budget for settles: counts its time, and an outage it failed with. */
export function settleBudget(deadline: BudgetDeadline, error?: unknown): void {
  const { budget } = deadline;
  budget.spentMs = (budget.spentMs ?? 0) + (Date.now() - deadline.startedMs);
  if (error !== undefined && isOutage(error)) budget.failure = error;
}

/**
 * Runs one store operation of a request within the request's budget. The first operation runs under the
 * store's own deadline alone; a later one gets what is left of the budget, as its store operation's
 * deadline. A store that did not take the budget (an operation answered at once, or a store of another
 * kind) is timed and bounded here instead. Never throws: a store that throws gives a rejection.
 */
export function withinBudget<T>(budget: RequestBudget | undefined, store: BudgetedStore, what: string, operation: () => Promise<T>): Promise<T> {
  if (budget === undefined) return promiseOf(operation);
  if (budget.failure !== undefined) return Promise.reject(budget.failure);
  const { timeoutMs } = store.options;
  const leftMs = timeoutMs - (budget.spentMs ?? 0);
  const label = store.backend.label;
  if (leftMs <= 0) return Promise.reject(new SessionStoreError("TIMEOUT", `${label}: ${what} not started — this request already spent its ${timeoutMs} ms (timeoutMs) on the store`, { backend: label }));
  const deadline: BudgetDeadline = { budget, startedMs: Date.now(), timeoutMs: leftMs, shortened: leftMs < timeoutMs, what, budgetMs: timeoutMs };
  handover = deadline;
  taken = false;
  let work: Promise<T>;
  try {
    work = promiseOf(operation);
  } finally {
    handover = undefined;
  }
  if (taken) return work; // the store counts it (settleBudget)
  if (deadline.shortened) work = withDeadline(work, leftMs, restOfBudget(what, timeoutMs), label);
  return work.then(
    (value) => {
      settleBudget(deadline);
      return value;
    },
    (error: unknown) => {
      settleBudget(deadline, error);
      throw error;
    },
  );
}
