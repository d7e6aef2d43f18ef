import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import memjs from "memjs";
import { createSessionStore, type SessionStore } from "@sessionbridge/core";
import { startMemcached, startMemcachedNodes, startRedis, type MemcachedServer, type RedisServer } from "@sessionbridge/testing";
import { sessionbridge } from "./run.js";

/** The `sessionbridge` bin end to end against real memcached nodes (listing through lru_crawler metadump). */

let nodes: MemcachedServer[];
let sasl: MemcachedServer;
let redis: RedisServer;
const stores: SessionStore[] = [];
const track = (store: SessionStore) => (stores.push(store), store);
const dir = mkdtempSync(join(tmpdir(), "sessionbridge-cli-mc-"));
const SASL_PASSWORD = "mc-pw-never-printed-77";

beforeAll(async () => {
  [nodes, sasl, redis] = await Promise.all([startMemcachedNodes(2), startMemcached({ sasl: { username: "app", password: SASL_PASSWORD } }), startRedis()]);
});
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await Promise.all([...(nodes ?? []).map((n) => n.dispose()), sasl?.dispose(), redis?.dispose()]);
});

const both = () => `memcached://${nodes.map((n) => n.address).join(",")}`;

describe("sessionbridge on Memcached", () => {
  it("counts sessions over every node, exports them and imports them into Redis with their expiry", async () => {
    const store = track(createSessionStore({ url: both(), prefix: "mc:" }));
    for (let i = 0; i < 20; i++) await store.set(`id-${i}`, { n: i }, { ttlMs: 3_600_000 });
    const count = await sessionbridge(["--url", both(), "--prefix", "mc:", "count"]);
    expect(count).toMatchObject({ code: 0, stdout: "20\n" });

    const file = join(dir, "mc.jsonl");
    const exported = await sessionbridge(["--url", both(), "--prefix", "mc:", "export", file]);
    expect(exported.code).toBe(0);
    expect(readFileSync(file, "utf8").trim().split("\n")).toHaveLength(21);
    const imported = await sessionbridge(["--url", redis.url, "--prefix", "mc:", "--json", "import", file]);
    expect(JSON.parse(imported.stdout)).toMatchObject({ imported: 20 });
    const target = track(createSessionStore({ url: redis.url, prefix: "mc:" }));
    expect(await target.get("id-13")).toEqual({ n: 13 });
  });

  it("moves connect-memjs sessions listed through metadump", async () => {
    const client = memjs.Client.create(nodes[0]?.address);
    const cookie = { originalMaxAge: 3_600_000, expires: new Date(Date.now() + 3_600_000).toISOString(), httpOnly: true, path: "/" };
    for (let i = 0; i < 4; i++) await client.set(`memjs-${i}`, JSON.stringify({ cookie, user: `m${i}` }), { expires: 3600 });
    client.quit();
    const run = await sessionbridge(["--url", nodes[0]?.url as string, "--prefix", "sb:", "--json", "migrate", "--from", "connect-memjs", "--from-prefix", "memjs-"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ moved: 4, failed: 0 });
    const store = track(createSessionStore({ url: nodes[0]?.url as string, prefix: "sb:" }));
    expect(await store.get("2")).toEqual({ user: "m2" });
  });

  it("moves a rate-limited run over more than one metadump batch: a slow mover does not time the listing out", async () => {
    const client = memjs.Client.create(nodes[0]?.address);
    const cookie = { originalMaxAge: 3_600_000, expires: new Date(Date.now() + 3_600_000).toISOString(), httpOnly: true, path: "/" };
    const value = JSON.stringify({ cookie, user: "slow" });
    for (let i = 0; i < 1700; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => client.set(`paced-${i + j}`, value, { expires: 3600 })));
    // Other keys written after them: the dump goes on past the sessions while the mover holds the listing.
    for (let i = 0; i < 3000; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => client.set(`other-${i + j}`, value, { expires: 3600 })));
    client.quit();
    // The listing hands out 500 keys at a time and reads ahead about a thousand lines of the dump; 500
    // moves at 400 per second hold it longer than its idle deadline (1 s), which must not count that time.
    const run = await sessionbridge(["--url", nodes[0]?.url as string, "--prefix", "paced:", "--json", "migrate", "--from", "connect-memjs", "--from-prefix", "paced-", "--rate", "400"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ moved: 1700, failed: 0 });
  });

  it("counts the sessions of a node that also holds a large cache: the listing is not bound by one operation's deadline", async () => {
    const node = nodes[1] as MemcachedServer;
    // 200,000 cache items in one pipelined write (text protocol, noreply), then 12 sessions.
    const socket = connect(node.port, "127.0.0.1");
    await once(socket, "connect");
    for (let i = 0; i < 200_000; i += 10_000) {
      const chunk = Array.from({ length: 10_000 }, (_, j) => `set cache:item:${i + j} 0 3600 5 noreply\r\nhello\r\n`).join("");
      if (!socket.write(chunk)) await once(socket, "drain");
    }
    // The server answers VERSION once every set before it is stored, then closes on our end of input.
    socket.resume();
    socket.end("version\r\n");
    await once(socket, "close");
    const store = track(createSessionStore({ url: node.url, prefix: "few:" }));
    for (let i = 0; i < 12; i++) await store.set(`f${i}`, { n: i });
    // The metadump streams all 200,000 items; a 100 ms operation deadline is far shorter than that.
    const count = await sessionbridge(["--url", node.url, "--prefix", "few:", "--timeout-ms", "100", "count"]);
    expect(count.stderr).toBe("");
    expect(count).toMatchObject({ code: 0, stdout: "12\n" });
    // A server that stops answering still fails the listing, by the listing's own silence deadline.
    await node.pause();
    const hung = await sessionbridge(["--url", node.url, "--prefix", "few:", "--timeout-ms", "100", "count"]);
    await node.resume();
    expect(hung.code).toBe(1);
    expect(hung.stderr).toMatch(/TIMEOUT: memcached .*: no answer to "lru_crawler metadump all"/);
  });

  it("pings every node and says which one is down", async () => {
    await nodes[1]?.stop();
    try {
      const run = await sessionbridge(["--url", both(), "--timeout-ms", "500", "ping"]);
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(new RegExp(`memcached ${nodes[0]?.address}: up, [\\d.]+ ms`));
      expect(run.stdout).toMatch(new RegExp(`memcached ${nodes[1]?.address}: down`));
    } finally {
      await nodes[1]?.restart();
    }
  });

  it("leaves no incomplete export file behind when a node fails half way (a partial backup would restore a subset)", async () => {
    const store = track(createSessionStore({ url: both(), prefix: "half:" }));
    for (let i = 0; i < 40; i++) await store.set(`h${i}`, { n: i }, { ttlMs: 3_600_000 });
    const file = join(dir, "half.jsonl");
    await nodes[1]?.stop();
    try {
      // The first node is listed and written; the second cannot be reached.
      const run = await sessionbridge(["--url", both(), "--prefix", "half:", "--timeout-ms", "500", "export", file]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/UNAVAILABLE/);
      expect(run.stderr).toMatch(/incomplete export .* removed/);
      expect(existsSync(file)).toBe(false);
    } finally {
      await nodes[1]?.restart();
    }
  });

  it("says plainly that a SASL server cannot be listed, without printing its password", async () => {
    const run = await sessionbridge(["count"], { env: { SESSIONBRIDGE_URL: sasl.url }, secrets: [SASL_PASSWORD] });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/UNSUPPORTED: memcached .*: cannot list keys: with SASL memcached speaks only the binary protocol/);
  });
});
