// The Memcached backend lives in ./memcached/ (one file per concern); this is its public entry.
export { memcachedBackend } from "./memcached/index.js";
export type { MemcachedBackendOptions, MemcachedNodeAddress, MemcachedTlsOptions } from "./memcached/index.js";
