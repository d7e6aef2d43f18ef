import { redisScript, type RedisCommands } from "./client-commands.js";

/**
 * Compare-and-set on the envelope header: write only when the stored value still starts with the
 * version prefix the writer read (see record.ts). One script, so the check and the write are atomic.
 * Returns 1 written, 0 missing, -1 another version is stored. Integers read the same in RESP2 and RESP3.
 */
const SCRIPT = redisScript(`
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
if string.sub(current, 1, string.len(ARGV[1])) ~= ARGV[1] then return -1 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`);

export type CompareAndSetResult = "ok" | "missing" | "mismatch";

/**
 * EVALSHA first (the script text is not resent on every write); EVAL when the server does not know the
 * script yet (NOSCRIPT: after a restart, a failover, or on a fresh node), which also caches it there.
 */
export function compareAndSet(client: RedisCommands, key: string, expectedPrefix: string, value: string, ttlMs: number): Promise<CompareAndSetResult> {
  return client.evaluate(SCRIPT, key, [expectedPrefix, value, ttlMs]).then(resultOf);
}

function resultOf(reply: unknown): CompareAndSetResult {
  const code = Number(reply);
  return code === 1 ? "ok" : code === 0 ? "missing" : "mismatch";
}
