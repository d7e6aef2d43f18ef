import { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { redisBackend } from "@sessionbridge/core";
import { backendContract } from "../src/contract.js";
import { limitsContract } from "../src/contract-limits.js";
import { startRedis, testClient, type RedisServer } from "../src/redis.js";

// One server per variant for the whole file; the suite uses a unique prefix per test.
const servers: Partial<Record<"plain" | "requirepass" | "acl" | "aclMinimal" | "tls", RedisServer>> = {};

/** The commands the README tells ElastiCache RBAC users to allow: the suite proves the list is enough. */
const MINIMAL_ACL_COMMANDS = ["+get", "+getex", "+set", "+pexpire", "+unlink", "+scan", "+evalsha", "+eval", "+ping", "+hello", "+zadd", "+zrange", "+zrangebyscore", "+zrem", "+zremrangebyscore", "+pttl"];

beforeAll(async () => {
  [servers.plain, servers.requirepass, servers.acl, servers.aclMinimal, servers.tls] = await Promise.all([
    startRedis({ kind: "plain" }),
    startRedis({ kind: "requirepass", password: "s3cret-pass" }),
    startRedis({ kind: "acl", username: "alice", password: "alice-secret", keys: "sess:*" }),
    startRedis({ kind: "acl", username: "bob", password: "bob-secret", keys: "sess:*", commands: MINIMAL_ACL_COMMANDS }),
    startRedis({ kind: "tls" }),
  ]);
});

/** Caller-owned clients (the store never closes those): disconnected when the file is done. */
const ownClients: Redis[] = [];

afterAll(async () => {
  for (const client of ownClients) client.disconnect();
  await Promise.all(Object.values(servers).map((server) => server?.dispose()));
});

backendContract({ name: "redis standalone", backend: () => redisBackend({ url: servers.plain!.url }) });
backendContract({ name: "redis with requirepass", backend: () => redisBackend({ url: servers.requirepass!.url }) });
const noChannels = "Redis 7 gives a new ACL user no channels (acl-pubsub-default resetchannels)";
backendContract({ name: "redis with an ACL user limited to sess:*", backend: () => redisBackend({ url: servers.acl!.url }), pubsubDenied: noChannels });
backendContract({ name: "redis with an ACL user limited to sess:* and the documented commands", backend: () => redisBackend({ url: servers.aclMinimal!.url }), pubsubDenied: noChannels });
backendContract({ name: "redis over TLS", backend: () => redisBackend({ url: servers.tls!.url, tls: { ca: servers.tls!.tls!.caPem } }) });
// ioredis 6 speaks RESP3 by default; a caller's client may force RESP2 (older servers, proxies).
backendContract({
  name: "redis through a caller's ioredis client speaking RESP2",
  backend: () => {
    const client = testClient({ host: "127.0.0.1", port: servers.plain!.port, protocol: 2, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    ownClients.push(client);
    return redisBackend({ client });
  },
});
limitsContract({ name: "redis standalone", backend: () => redisBackend({ url: servers.plain!.url }), shared: true });
