export { Cache, createCache } from "./cache.js";
export type { CacheEvents, Lookup, LookupSource, SetOptions, WriteOutcome } from "./cache.js";
export type { CacheOptions, FreshnessOptions, LoadOptions } from "./options.js";
export type { Loader, LoaderContext } from "./loader.js";
export type { FirstTierOptions } from "./first-tier.js";
