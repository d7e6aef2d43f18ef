export * from "./process.js";
export * from "./redis-topologies.js";
