export { createExpressStore, ExpressStore } from "./store.js";
export type { ExpressStoreOptions } from "./store.js";
export { sessionbridge } from "./middleware.js";
export type { SessionbridgeMiddleware, SessionbridgeOptions } from "./middleware.js";
export { saveBeforeResponse } from "./save-before-response.js";
export { readiness } from "./readiness.js";
