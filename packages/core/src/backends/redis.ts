// The Redis backend lives in ./redis/ (options, client, connection, commands, errors); this file keeps
// the one-file-per-backend entry point.
export { redisBackend } from "./redis/index.js";
export type { RedisBackendOptions, RedisTlsOptions, HighAvailabilityOptions, ReadFrom, RedisAddress, WaitForReplicas, NodeRedisClient } from "./redis/index.js";
