export { sessionbridge } from "./plugin.js";
export type { SessionbridgePluginOptions } from "./plugin.js";
export { createFastifyStore, FastifyStore } from "./store.js";
export type { FastifyStoreOptions } from "./store.js";
export { readinessRoute } from "./readiness.js";
