import { randomBytes } from "node:crypto";
import { inspect } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createSessionStore, memcachedBackend, memoryBackend, redisBackend, type SessionStore } from "@sessionbridge/core";
import { startMemcached, type MemcachedServer } from "../src/memcached.js";
import { startHangListener, startRedis, type HangListener, type RedisServer } from "../src/redis.js";

/**
 * No password, key or session id in any error or log line. Each case provokes failures carrying a
 * unique secret, then looks for that secret in everything an application would log: the message, the
 * whole error as `console.error(error)` prints it (causes and extra properties included), every event
 * payload, and everything written to the console or stdout/stderr meanwhile.
 */

const PASSWORD = `pw-${randomBytes(8).toString("hex")}`;
let requirepass: RedisServer;
let acl: RedisServer;
let sasl: MemcachedServer;
let hang: HangListener;
const stores: SessionStore[] = [];
const printed: string[] = [];

beforeAll(async () => {
  [requirepass, acl, sasl, hang] = await Promise.all([
    startRedis({ kind: "requirepass", password: PASSWORD }),
    startRedis({ kind: "acl", username: "app", password: PASSWORD, keys: "sess:*" }),
    startMemcached({ sasl: { username: "app", password: PASSWORD } }),
    startHangListener(),
  ]);
  // Everything printed while the tests run is searched for secrets too.
  for (const name of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, name).mockImplementation((...args: unknown[]) => void printed.push(args.map((a) => inspect(a, { depth: 8 })).join(" ")));
  }
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream);
    vi.spyOn(stream, "write").mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
      printed.push(String(chunk));
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write);
  }
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});
afterAll(async () => {
  vi.restoreAllMocks();
  await Promise.all([requirepass?.dispose(), acl?.dispose(), sasl?.dispose(), hang?.close()]);
  expectNoSecret(printed.join("\n"), [PASSWORD]);
});

function expectNoSecret(text: string, secrets: readonly string[]): void {
  for (const secret of secrets) expect(text, "a secret leaked").not.toContain(secret);
}

/** Opens a store and collects everything it reports: errors thrown by `work` and every event. */
async function collect(options: Parameters<typeof createSessionStore>[0], work: (store: SessionStore) => Promise<unknown>): Promise<string> {
  const seen: unknown[] = [];
  let store: SessionStore;
  try {
    store = createSessionStore(options);
  } catch (error) {
    return inspect(error, { depth: 8 });
  }
  stores.push(store);
  for (const event of ["error", "unavailable", "corrupt", "conflict"] as const) store.on(event, (payload: unknown) => seen.push(payload));
  try {
    await work(store);
  } catch (error) {
    seen.push(error);
  }
  expect(seen.length, "the case provoked nothing to inspect").toBeGreaterThan(0);
  return seen.map((item) => inspect(item, { depth: 8 }) + (item instanceof Error ? item.message : "")).join("\n");
}

describe("no secret in errors, events or logs", () => {
  it("Redis: a wrong password, a wrong ACL user password, an outage", async () => {
    const wrong = `wrong-${PASSWORD}`;
    const cases = [
      await collect({ url: `redis://:${wrong}@127.0.0.1:${requirepass.port}`, timeoutMs: 1500 }, (s) => s.get("sid")),
      await collect({ url: `redis://app:${wrong}@127.0.0.1:${acl.port}`, timeoutMs: 1500 }, (s) => s.get("sid")),
      await collect({ url: `redis://:${PASSWORD}@127.0.0.1:${hang.port}`, timeoutMs: 300 }, (s) => s.get("sid")),
      await collect({ backend: redisBackend({ url: `redis://:${PASSWORD}@127.0.0.1:${hang.port}` }), timeoutMs: 300 }, (s) => s.set("sid", { a: 1 })),
      // The right password, but a key outside the ACL user's pattern: NOPERM.
      await collect({ url: `redis://app:${PASSWORD}@127.0.0.1:${acl.port}`, prefix: "other:", timeoutMs: 1500 }, (s) => s.get("sid")),
    ];
    for (const text of cases) expectNoSecret(text, [PASSWORD, wrong]);
    expect(cases[0]).toMatch(/AUTH|WRONGPASS|auth/i);
  });

  it("Memcached: a wrong SASL password", async () => {
    const wrong = `wrong-${PASSWORD}`;
    const text = await collect({ backend: memcachedBackend({ url: `memcached://app:${wrong}@127.0.0.1:${sasl.port}` }), timeoutMs: 1500 }, (s) => s.get("sid"));
    expectNoSecret(text, [PASSWORD, wrong]);
  });

  it("keys and secrets in bad options", async () => {
    const shortSecret = `short-${randomBytes(4).toString("hex")}`;
    const badKey = randomBytes(20).toString("hex");
    const url = `redis://user:${PASSWORD}@`; // no host: a URL error
    const texts = [
      await collect({ backend: memoryBackend(), keySecret: shortSecret }, async () => undefined),
      await collect({ backend: memoryBackend(), encryptionKeys: [{ id: "a", key: badKey }] }, async () => undefined),
      await collect({ url }, async () => undefined),
      await collect({ url: `redis://user:${PASSWORD}@127.0.0.1:99999` }, async () => undefined),
    ];
    for (const text of texts) expectNoSecret(text, [shortSecret, badKey, PASSWORD]);
  });

  it("session ids in every kind of failure", async () => {
    const id = `sid-${randomBytes(12).toString("base64url")}`;
    const texts = [
      await collect({ backend: memoryBackend(), maxBytes: 100 }, (s) => s.set(id, { big: "x".repeat(500) })),
      await collect({ backend: memoryBackend() }, (s) => s.set(`${id}\n`, { a: 1 })),
      await collect({ backend: memoryBackend() }, (s) => s.get(id.repeat(20))),
      await collect({ backend: memoryBackend(), userIdFrom: () => ({ id }) }, (s) => s.set(id, { a: 1 })),
      await collect({ backend: memoryBackend(), encryptionKeys: [{ id: "k", key: randomBytes(32) }] }, async (s) => {
        await s.backend.set(`${s.options.prefix}${id}`, "sb1:AAAAAAAAAAAA:e1.k.garbage", 60_000);
        return s.get(id);
      }),
      await collect({ backend: memoryBackend() }, async (s) => {
        await s.set(id, { a: 1 });
        const [first, second] = [await s.load(id), await s.load(id)];
        await s.save(id, { a: 2 }, { previous: first });
        return s.save(id, { a: 3 }, { previous: second });
      }),
      await collect({ url: `redis://127.0.0.1:${hang.port}`, timeoutMs: 300 }, (s) => s.destroy(id)),
    ];
    for (const text of texts) expectNoSecret(text, [id]);
  });
});
