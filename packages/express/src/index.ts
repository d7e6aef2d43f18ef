export { createExpressStore, ExpressStore } from "./store.js";
export type { ExpressStoreOptions } from "./store.js";
export { saveBeforeResponse } from "./save-before-response.js";
