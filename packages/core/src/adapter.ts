/**
 * `@sessionbridge/core/adapter`: what framework adapters (and other packages built on the store:
 * caches, tracing, tools) share, kept off the main entry so applications see only the store, its
 * backends, options, types and errors. Documented in the core README ("Writing an adapter").
 *
 * Add an internal another package needs here, with a doc comment on its declaration; never re-export it
 * from index.ts. tsup builds this entry and index.ts with code splitting, so both entries share one copy
 * of every module (one `SessionStoreError` class, one request-budget WeakMap) in the ESM build and one in
 * the CJS build.
 */
export { checkMetaOption, commitSession, detachData, isBrowserSessionCookie, isOutage, isSessionFailure, leanCopy, remainingMs, SessionTracker, toCallback, ttlFromExpiry, withHttpStatus } from "./adapter-support.js";
export type { CommitOptions, FrameworkExpiry } from "./adapter-support.js";
export { budgetOf, linkBudget, runWithBudget, withinBudget } from "./request-budget.js";
export type { BudgetedStore, RequestBudget } from "./request-budget.js";
export { diff } from "./store.js";
/** Runs a function returning a promise; a synchronous throw becomes a rejection (promise-of.ts). */
export { promiseOf } from "./promise-of.js";
export { readinessCheck } from "./readiness.js";
/** A value hung on an object without a WeakMap (see hidden-slot.ts): what adapters link per request. */
export { HiddenSlot } from "./hidden-slot.js";
export type { HealthSource, ReadinessAnswer, ReadinessOptions } from "./readiness.js";
export type { Delta } from "./store.js";

// For packages built on the core's backends (the cache): the same deadlines, backends from a URL,
// encryption and option errors as the session store, so they behave alike and nothing is copied.
/** One deadline per operation, all sharing one timeout: see deadline.ts. */
export { Deadlines, withDeadline } from "./deadline.js";
/** A backend from a `redis://`, `rediss://`, `memcached://` or `memory://` URL. */
export { backendFromUrl } from "./url.js";
/** AES-256-GCM with a keyring, bound to the backend key (additional authenticated data). */
export { createEncryption } from "./crypto.js";
export type { EncryptionSettings } from "./crypto.js";
export type { BodyTransform } from "./record.js";
/** The cache's tracing channels, and the helpers the store traces its own operations with (see tracing.ts). */
export { cacheTracingChannels, isTraced, trace } from "./tracing.js";
/** A CONFIG error naming the option and what it accepts, never echoing a string's content. */
export { configError } from "./errors.js";
