/**
 * The main entry: the store, its backends, options, types and errors. What only framework adapters and
 * other packages built on the store share lives on the `@sessionbridge/core/adapter` subpath (adapter.ts).
 */
export { createSessionStore } from "./store.js";
export type { LoadedSession, MigrateOutcome, SaveOptions, SaveOutcome, SessionData, SessionStore, StoreEvents, StoreHealth, UserSession, WriteOptions } from "./store.js";
export type { EncryptionKey } from "./crypto.js";
export type { SessionStoreOptions } from "./options.js";
export type { IncumbentFormatName, MigrateFrom, MigrateFromIncumbent, MigrateFromStore } from "./migrate/options.js";
export type { MigrationSource, SourceRead, SourceSession } from "./migrate/source.js";
export { AVAILABILITY_CHANNEL, CACHE_TRACING_CHANNELS, TRACING_CHANNELS } from "./tracing.js";
export type { AvailabilityMessage, CacheOperation, CacheOperationContext, CacheOutcome, OperationContext, OperationOutcome, ServedBy, TracedOperation } from "./tracing.js";
export { SessionStoreError, isSessionStoreError } from "./errors.js";
export type { SessionStoreErrorCode } from "./errors.js";
export type { ReadinessAnswer, ReadinessOptions } from "./readiness.js";
export type { Backend, BackendCapabilities, BackendEvents, CommandObserver, GetOptions, NodeHealth, SetCondition, SetResult, SubscriptionListener } from "./backend.js";
export type { SessionRecord } from "./record.js";
export { jsonSerializer } from "./codec.js";
export type { Serializer } from "./codec.js";
export { memoryBackend } from "./backends/memory.js";
export type { MemoryBackendOptions } from "./backends/memory.js";
export { redisBackend } from "./backends/redis.js";
export type { RedisBackendOptions, RedisTlsOptions, HighAvailabilityOptions, ReadFrom, RedisAddress, WaitForReplicas, NodeRedisClient } from "./backends/redis.js";
export { memcachedBackend } from "./backends/memcached.js";
export type { MemcachedBackendOptions, MemcachedNodeAddress, MemcachedTlsOptions } from "./backends/memcached.js";
export { MAX_ID_LENGTH } from "./ids.js";
