import { redisScript } from "./client-commands.js";
import type { RedisConnection } from "./connection.js";

/**
 * The per-user index on Redis: one sorted set per user, member = the session key without its prefix,
 * score = the epoch ms until which the session may live (the store keeps it ahead of the real expiry).
 *
 * Every command touches exactly one key (the user's set), so the layout is Cluster-safe without hash
 * tags. Expired members are removed on every add and list, and the set's own TTL is kept at least as
 * long as its longest member, so a user who never comes back leaves nothing behind.
 */

// KEYS[1] the set; ARGV[1] now (ms); ARGV[2] the TTL the set needs (ms); ARGV[3..] score, member pairs.
// ZADD GT: a score only moves forward, so a slow writer cannot shorten an entry a faster one extended.
const ADD = redisScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for i = 3, #ARGV, 2 do redis.call('ZADD', KEYS[1], 'GT', ARGV[i], ARGV[i + 1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`);

// KEYS[1] the set; ARGV[1] now (ms). Drops expired members, returns the live ones with their scores.
const LIST = redisScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
`);

export function indexAdd(connection: RedisConnection, indexKey: string, members: ReadonlyArray<{ member: string; expiresAtMs: number }>, keyTtlMs: number): Promise<void> {
  const pairs = members.flatMap(({ member, expiresAtMs }) => [Math.ceil(expiresAtMs), member]);
  return connection.run("indexAdd", async (client) => {
    await client.evaluate(ADD, indexKey, [Date.now(), Math.max(1, Math.ceil(keyTtlMs)), ...pairs]);
  });
}

export function indexList(connection: RedisConnection, indexKey: string, nowMs: number): Promise<Array<{ member: string; expiresAtMs: number }>> {
  return connection.run("indexList", async (client) => {
    const reply = await client.evaluate(LIST, indexKey, [Math.floor(nowMs)]);
    return parseWithScores(reply);
  });
}

export function indexRemove(connection: RedisConnection, indexKey: string, members: readonly string[]): Promise<void> {
  if (members.length === 0) return Promise.resolve();
  return connection.run("indexRemove", async (client) => {
    await client.zrem(indexKey, members);
  });
}

/** ZRANGE … WITHSCORES from a script: a flat array [member, score, …] in RESP2 and RESP3 alike. */
function parseWithScores(reply: unknown): Array<{ member: string; expiresAtMs: number }> {
  if (!Array.isArray(reply)) return [];
  const result: Array<{ member: string; expiresAtMs: number }> = [];
  for (let i = 0; i + 1 < reply.length; i += 2) {
    const member = reply[i];
    const score = Number(reply[i + 1]);
    if (Number.isFinite(score)) result.push({ member: String(member), expiresAtMs: score });
  }
  return result;
}
