import { connect } from "node:net";
import type { Redis } from "ioredis";

/** Calls per command name, e.g. { getex: 100, set: 3 }. */
export type CommandCounts = Record<string, number>;

// The bench's own probe; everything else counts, even a store's connection set-up or health pings.
const REDIS_OWN = new Set(["info", "monitor"]);

/**
 * Watches Redis with MONITOR and counts the commands clients send (the round trips a store costs).
 * Commands a Lua script runs inside the server are reported by MONITOR as source "lua" and left out:
 * they cost no round trip (INFO commandstats, by contrast, counts them too).
 */
export async function watchRedisCommands(admin: Redis): Promise<{ stop(): Promise<CommandCounts> }> {
  const monitor = await admin.monitor();
  const counts: CommandCounts = {};
  const marker = `bench-count-end-${Math.random().toString(36).slice(2)}`;
  let sawMarker: () => void = () => undefined;
  const markerSeen = new Promise<void>((resolve) => (sawMarker = resolve));
  monitor.on("monitor", (_time: string, args: string[], source: string) => {
    const name = (args[0] ?? "").toLowerCase();
    if (name === "echo" && args[1] === marker) return sawMarker();
    if (source === "lua" || REDIS_OWN.has(name)) return;
    counts[name] = (counts[name] ?? 0) + 1;
  });
  return {
    async stop() {
      // MONITOR lines arrive asynchronously: a marker command sent last tells us every line is in.
      await admin.echo(marker);
      await markerSeen;
      monitor.disconnect();
      return counts;
    },
  };
}

/** Redis `INFO commandstats`: exact per-command call counts of the whole server, commands run by scripts included. */
export async function redisCommandCounts(client: Redis): Promise<CommandCounts> {
  const text = await client.info("commandstats");
  const counts: CommandCounts = {};
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    const name = match[1] as string;
    if (!REDIS_OWN.has(name)) counts[name] = Number(match[2]);
  }
  return counts;
}

// memcached `stats` counters that each count one command a client sent.
const MEMCACHED_COMMANDS: Record<string, string[]> = {
  get: ["cmd_get"],
  set: ["cmd_set"],
  touch: ["cmd_touch"],
  delete: ["delete_hits", "delete_misses"],
  incr: ["incr_hits", "incr_misses"],
  decr: ["decr_hits", "decr_misses"],
};

/** memcached `stats` over the text protocol: per-command counts (set covers add/replace/cas too). */
export async function memcachedCommandCounts(port: number): Promise<CommandCounts> {
  const text = await memcachedText(port, "stats", "END\r\n");
  const stats = new Map<string, number>();
  for (const match of text.matchAll(/^STAT (\S+) (\d+)\r$/gm)) stats.set(match[1] as string, Number(match[2]));
  const counts: CommandCounts = {};
  for (const [name, fields] of Object.entries(MEMCACHED_COMMANDS)) {
    counts[name] = fields.reduce((sum, field) => sum + (stats.get(field) ?? 0), 0);
  }
  return counts;
}

/** after − before, without the commands that did not move. */
export function diffCounts(before: CommandCounts, after: CommandCounts): CommandCounts {
  const delta: CommandCounts = {};
  for (const [name, calls] of Object.entries(after)) {
    const moved = calls - (before[name] ?? 0);
    if (moved !== 0) delta[name] = moved;
  }
  return delta;
}

/** Sends one text-protocol command to memcached and resolves its reply (up to `terminator`). */
export function memcachedText(port: number, command: string, terminator: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1" });
    let buffer = "";
    socket.setTimeout(5000, () => socket.destroy(new Error(`memcached ${command} timed out`)));
    socket.on("data", (chunk) => {
      buffer += chunk.toString("utf8");
      if (buffer.endsWith(terminator)) {
        socket.end();
        resolve(buffer);
      }
    });
    socket.on("error", reject);
    socket.write(`${command}\r\n`);
  });
}
