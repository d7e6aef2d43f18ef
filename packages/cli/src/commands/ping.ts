import { performance } from "node:perf_hooks";
import { createSessionStore, type SessionStoreOptions } from "@sessionbridge/core";
import { describeFailure, print } from "../output.js";

/**
 * `sessionbridge ping`: is the backend up, and how long a round trip takes. For Memcached, every node
 * on its own (up with its latency, or down with why), since the store keeps working while a node is down.
 * Resolves false when anything is down.
 */
export async function ping(options: SessionStoreOptions, json: boolean): Promise<boolean> {
  const targets = memcachedNodes(options) ?? [{ name: undefined, options }];
  const results = await Promise.all(targets.map(async (target) => {
    const store = createSessionStore(target.options);
    const label = target.name === undefined ? store.backend.label : `memcached ${target.name}`;
    try {
      const started = performance.now();
      await store.ping();
      const first = performance.now() - started;
      const again = performance.now();
      await store.ping(); // the second round trip: the first one also connected
      return { target: label, up: true, latencyMs: round(Math.min(first, performance.now() - again)) };
    } catch (error) {
      return { target: label, up: false, error: describeFailure(error).message };
    } finally {
      await store.close();
    }
  }));
  if (json) print(JSON.stringify(results));
  else for (const result of results) print(result.up ? `${result.target}: up, ${result.latencyMs} ms` : `${result.target}: down — ${result.error}`);
  return results.every((result) => result.up);
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** One set of options per Memcached node (`memcached://[user:pass@]h1:p1,h2:p2[?tls=true]` or `servers`), else undefined. */
function memcachedNodes(options: SessionStoreOptions): Array<{ name: string; options: SessionStoreOptions }> | undefined {
  const url = options.url;
  if (typeof url !== "string") return undefined;
  const match = /^(memcached:\/\/)([^@/?#]*@)?([^/?#]+)(.*)$/i.exec(url);
  if (match === null) return undefined;
  const hosts = (match[3] as string).split(",").filter((host) => host.length > 0);
  if (hosts.length < 2) return undefined;
  return hosts.map((host) => ({ name: host.includes(":") ? host : `${host}:11211`, options: { ...options, url: `${match[1]}${match[2] ?? ""}${host}${match[4]}` } }));
}
