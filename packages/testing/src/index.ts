export * from "./process.js";
export * from "./redis-topologies.js";
export * from "./redis.js";
export * from "./failover-load.js";
export * from "./memcached.js";
export * from "./contract.js";
export * from "./adapter-backends.js";
export * from "./contract-limits.js";
