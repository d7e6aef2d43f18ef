export * from "./process.js";
export * from "./redis-topologies.js";
export * from "./redis.js";
export * from "./memcached.js";
export * from "./contract.js";
