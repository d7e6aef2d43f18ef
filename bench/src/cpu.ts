import { readdirSync, readFileSync } from "node:fs";
import type { Redis } from "ioredis";
import { memcachedText } from "./counters.js";

// CPU seconds spent per request are far less disturbed by other work on a shared machine than req/s:
// a store that needs more CPU per request is slower whatever the neighbours do.

const TICKS_PER_SECOND = 100; // Linux USER_HZ (getconf CLK_TCK)

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; null off Linux. */
export function processCpuSeconds(pid: number): number | null {
  try {
    return statCpuSeconds(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return null;
  }
}

/** utime + stime of a /proc `stat` line, in seconds. */
function statCpuSeconds(stat: string): number {
  // Fields after the command name (which may contain spaces) start at ")": utime is field 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/**
 * CPU seconds of a process split into its main thread (JavaScript, and the garbage collection that runs
 * there) and every other thread (V8's helpers: parallel scavenging, concurrent marking, compilation;
 * libuv's pool), from /proc/<pid>/task. A main-thread `--cpu-prof` never sees the helpers, and the
 * bench's per-process figure counts them: garbage that survives makes them busy. Null off Linux.
 */
export function threadCpuSeconds(pid: number): { main: number; helpers: number } | null {
  try {
    let main = 0;
    let helpers = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      let seconds: number;
      try {
        seconds = statCpuSeconds(readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8"));
      } catch {
        continue; // the thread ended between the listing and the read
      }
      if (tid === String(pid)) main += seconds;
      else helpers += seconds;
    }
    return { main, helpers };
  } catch {
    return null;
  }
}

/** CPU seconds redis-server has used (all threads), from INFO cpu. */
export async function redisCpuSeconds(client: Redis): Promise<number> {
  const text = await client.info("cpu");
  const read = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(text)?.[1] ?? 0);
  return read("used_cpu_user") + read("used_cpu_sys");
}

/** CPU seconds memcached has used, from `stats` (rusage_user + rusage_system). */
export async function memcachedCpuSeconds(port: number): Promise<number> {
  const text = await memcachedText(port, "stats", "END\r\n");
  const read = (name: string) => Number(new RegExp(`^STAT ${name} ([\\d.]+)`, "m").exec(text)?.[1] ?? 0);
  return read("rusage_user") + read("rusage_system");
}
