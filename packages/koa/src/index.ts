export { createKoaStore, KoaStore } from "./store.js";
export type { KoaSessionData } from "./store.js";
export { expressCookie } from "./cookie.js";
export type { ExpressCookieOptions } from "./cookie.js";
