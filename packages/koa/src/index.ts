export { createKoaStore, KoaStore } from "./store.js";
export type { KoaSessionData, KoaStoreOptions } from "./store.js";
export { expressCookie } from "./cookie.js";
export type { ExpressCookie, ExpressCookieOptions } from "./cookie.js";
export { readiness } from "./readiness.js";
