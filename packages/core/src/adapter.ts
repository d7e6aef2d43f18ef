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
export { checkMetaOption, commitSession, detachData, isOutage, isSessionFailure, leanCopy, remainingMs, SessionTracker, toCallback, ttlFromExpiry, withHttpStatus } from "./adapter-support.js";
export type { CommitOptions, FrameworkExpiry } from "./adapter-support.js";
export { budgetOf, linkBudget, runWithBudget, withinBudget } from "./request-budget.js";
export type { BudgetedStore, RequestBudget } from "./request-budget.js";
export { diff } from "./store.js";
export type { Delta } from "./store.js";
