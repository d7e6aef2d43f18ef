import { connect, createServer, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createSessionStore, memcachedBackend, type Backend, type SessionStore } from "@sessionbridge/core";
import { eventually, rejection, uniquePrefix } from "../src/contract.js";
import { freePort } from "../src/process.js";
import { startMemcachedNodes, type MemcachedHarnessOptions, type MemcachedServer } from "../src/memcached.js";

/**
 * A TCP relay in front of a real node that can cut a connection in the middle of a reply (a network
 * fault, not a fake memcached): `cutAfter(n)` lets n more bytes of the next reply through, then resets.
 */
async function faultyLink(target: MemcachedServer): Promise<{ address: string; cutAfter(bytes: number): void; close(): Promise<void> }> {
  let cut: number | undefined;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    upstream.on("data", (chunk: Buffer) => {
      if (cut === undefined) return void client.write(chunk);
      client.write(chunk.subarray(0, cut));
      cut = undefined;
      client.resetAndDestroy();
      upstream.destroy();
    });
    for (const socket of [client, upstream]) socket.on("error", () => undefined).on("close", () => client.destroy());
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    address: `127.0.0.1:${port}`,
    cutAfter: (bytes) => void (cut = bytes),
    close: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

// Several real memcached nodes per test: consistent hashing, a node stopped, hung and restarted.

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((step) => step()));
});

async function nodes(count: number, options: MemcachedHarnessOptions = {}): Promise<MemcachedServer[]> {
  const started = await startMemcachedNodes(count, options);
  cleanup.push(async () => void (await Promise.all(started.map((node) => node.dispose()))));
  return started;
}
function backendOn(servers: MemcachedServer[], options: Omit<Parameters<typeof memcachedBackend>[0], "servers"> = {}): Backend {
  const backend = memcachedBackend({ servers: servers.map((node) => node.address), ...options });
  cleanup.push(() => backend.close());
  return backend;
}
function storeOn(servers: MemcachedServer[], timeoutMs = 2000): SessionStore & { events: string[] } {
  const store = createSessionStore({ backend: memcachedBackend({ servers: servers.map((node) => node.address), retryDeadNodeMs: 200 }), prefix: uniquePrefix("nodes"), timeoutMs });
  cleanup.push(() => store.close());
  const events: string[] = [];
  store.on("unavailable", () => events.push("unavailable"));
  store.on("available", () => events.push("available"));
  store.on("error", (error) => events.push(`error: ${error.message}`));
  return Object.assign(store, { events });
}
/** Which node holds each key, read directly from every node. */
async function homes(servers: MemcachedServer[], keys: string[]): Promise<Map<string, MemcachedServer>> {
  const located = new Map<string, MemcachedServer>();
  for (const node of servers) {
    const direct = backendOn([node]);
    const values = await Promise.all(keys.map((key) => direct.get(key)));
    values.forEach((value, i) => {
      if (value !== null) located.set(keys[i] as string, node);
    });
  }
  return located;
}

describe("memcached: consistent hashing over several nodes", () => {
  it("moves at most about a third of the keys when a fourth node joins three (ketama, not hash % n)", async () => {
    const [a, b, c, d] = (await nodes(4)) as [MemcachedServer, MemcachedServer, MemcachedServer, MemcachedServer];
    const prefix = uniquePrefix("ring");
    const keys = Array.from({ length: 900 }, (_, i) => `${prefix}${i}`);
    const three = backendOn([a, b, c]);
    await Promise.all(keys.map((key) => three.set(key, "v", 60_000)));

    const spread = await homes([a, b, c], keys);
    expect(spread.size).toBe(keys.length);
    for (const node of [a, b, c]) {
      const share = [...spread.values()].filter((home) => home === node).length / keys.length;
      expect(share).toBeGreaterThan(0.2); // roughly even: 1/3 each
      expect(share).toBeLessThan(0.47);
    }

    const four = backendOn([a, b, c, d]);
    const found = await Promise.all(keys.map((key) => four.get(key)));
    const moved = found.filter((value) => value === null).length / keys.length;
    expect(moved).toBeGreaterThan(0.1); // the new node takes its share...
    expect(moved).toBeLessThanOrEqual(0.34); // ...and only that (ideal 1/4; hash % n would move ~3/4)
  });

  it("routes the same way whatever order the servers are listed in", async () => {
    const servers = await nodes(3);
    const prefix = uniquePrefix("order");
    const keys = Array.from({ length: 60 }, (_, i) => `${prefix}${i}`);
    const forward = backendOn(servers);
    await Promise.all(keys.map((key) => forward.set(key, "v", 60_000)));
    const reversed = backendOn([...servers].reverse());
    expect((await Promise.all(keys.map((key) => reversed.get(key)))).every((value) => value === "v")).toBe(true);
  });
});

describe("memcached: a node goes away", () => {
  it("answers 'no session' for sessions on a stopped node, serves the others, moves its keys, and uses it again when it returns", async () => {
    const servers = await nodes(3);
    const store = storeOn(servers);
    const ids = Array.from({ length: 60 }, (_, i) => `user-${i}`);
    await Promise.all(ids.map((id) => store.set(id, { id })));
    const located = await homes(servers, ids.map((id) => store.options.prefix + id));
    const dead = servers[1] as MemcachedServer;
    const onDead = ids.filter((id) => located.get(store.options.prefix + id) === dead);
    expect(onDead.length).toBeGreaterThan(0);

    await dead.stop();
    const reads = await Promise.all(ids.map((id) => store.get(id)));
    reads.forEach((data, i) => {
      const id = ids[i] as string;
      // Lost with their node (no replication): the user is logged out, not shown an error.
      expect(data).toEqual(onDead.includes(id) ? null : { id });
    });
    expect(store.events).not.toContain("unavailable"); // two nodes still serve
    expect(store.events.some((event) => event.includes(`${dead.address} is down`))).toBe(true);

    // A login whose key belongs to the dead node lands on the next node and works.
    const relogin = onDead[0] as string;
    await store.set(relogin, { id: relogin, again: true });
    expect(await store.get(relogin)).toEqual({ id: relogin, again: true });

    await dead.restart();
    const direct = backendOn([dead]);
    const fresh = onDead[1] ?? relogin;
    await eventually("keys are routed to the returned node again", async () => {
      await store.set(fresh, { id: fresh, back: true });
      return (await direct.get(store.options.prefix + fresh)) !== null;
    });
    expect(await store.get(fresh)).toEqual({ id: fresh, back: true });
    // The session written elsewhere during the outage was dropped when its node returned (documented).
    expect(await store.get(relogin)).toBeNull();
  });

  it("does not hang on a node that stops answering, and a logout made meanwhile sticks when it resumes", async () => {
    const servers = await nodes(3);
    const store = storeOn(servers, 2000);
    const ids = Array.from({ length: 60 }, (_, i) => `hung-${i}`);
    await Promise.all(ids.map((id) => store.set(id, { id })));
    const located = await homes(servers, ids.map((id) => store.options.prefix + id));
    const hung = servers[2] as MemcachedServer;
    const onHung = ids.filter((id) => located.get(store.options.prefix + id) === hung);
    expect(onHung.length).toBeGreaterThanOrEqual(2);
    const [loggedOut, untouched] = onHung as [string, string];

    hung.pause(); // keeps its sockets, answers nothing
    try {
      // The node is given half of timeoutMs, then its keys go to the next node: an answer, not a TIMEOUT.
      expect(await store.get(loggedOut), "read while its node hangs").toBeNull();
      await store.destroy(loggedOut); // the logout reaches the stand-in node only
      expect(await store.get(ids.find((id) => !onHung.includes(id)) as string)).not.toBeNull();
    } finally {
      hung.resume();
    }
    const direct = backendOn([hung]);
    await eventually("the resumed node serves its keys again", async () => (await store.get(untouched)) !== null);
    expect(await direct.get(store.options.prefix + untouched)).not.toBeNull();
    // Its old copy of the logged-out session was deleted before it was used again.
    expect(await direct.get(store.options.prefix + loggedOut), "old copy on the resumed node").toBeNull();
    expect(await store.get(loggedOut), "read after the node resumed").toBeNull();
  });

  it("reconnects to a node that restarted between two requests instead of treating it as down", async () => {
    const servers = await nodes(2);
    const store = storeOn(servers);
    const ids = Array.from({ length: 20 }, (_, i) => `restart-${i}`);
    await Promise.all(ids.map((id) => store.set(id, { id })));
    const restarted = servers[0] as MemcachedServer;
    await restarted.kill(); // a crash: its sessions are gone, its connections were cut
    await restarted.restart();
    await Promise.all(ids.map((id) => store.set(id, { id, again: true })));
    const onRestarted = await homes([restarted], ids.map((id) => store.options.prefix + id));
    expect(onRestarted.size).toBeGreaterThan(0); // its keys went straight back to it
    expect(store.events.filter((event) => event.includes("is down"))).toEqual([]);
  });

  it("recovers from a connection cut in the middle of a reply: retried on a fresh connection, no stale bytes", async () => {
    const [node] = (await nodes(1)) as [MemcachedServer];
    const link = await faultyLink(node);
    cleanup.push(() => link.close());
    const events: string[] = [];
    const backend = memcachedBackend({ servers: [link.address] });
    cleanup.push(() => backend.close());
    backend.on("error", (error) => events.push(error.message));
    const key = `${uniquePrefix("cut")}big`;
    const value = `sb1:${"v".repeat(300_000)}`;
    expect(await backend.set(key, value, 60_000)).toBe("ok");
    link.cutAfter(1000); // the reply's header and the start of the value arrive, then the link dies
    expect(await backend.get(key)).toBe(value);
    expect(await backend.get(key)).toBe(value);
    expect(events).toEqual([]); // a broken connection is not a dead node
  });

  it("fails ping with UNAVAILABLE naming how many nodes are down and which (never a credential) while any node is down, and passes once it is back", async () => {
    // A down node's users have lost their sessions although the other nodes serve: "the store can
    // serve" (ping) is not true, even if most requests still work.
    const sasl = { username: "pinger", password: "ping-secret-771" };
    const servers = await nodes(2, { sasl });
    const store = createSessionStore({ backend: memcachedBackend({ servers: servers.map((node) => node.address), ...sasl, retryDeadNodeMs: 200 }), prefix: uniquePrefix("ping"), timeoutMs: 2000 });
    cleanup.push(() => store.close());
    store.on("error", () => undefined);
    await store.ping();
    const dead = servers[1] as MemcachedServer;
    await dead.stop();
    for (let attempt = 0; attempt < 2; attempt++) {
      // The first ping finds the node down; the second knows it already.
      const failure = await rejection(store.ping());
      expect(failure.code).toBe("UNAVAILABLE");
      expect(failure.message).toContain("1 of 2 nodes is down");
      expect(failure.message).toContain(dead.address);
      expect(failure.message).not.toContain((servers[0] as MemcachedServer).address); // only the down node is named
      expect(failure.message).not.toContain(sasl.password);
    }
    await dead.restart();
    await eventually("ping passes once the node is back", async () => store.ping().then(() => true, () => false));
  });

  it("reports UNAVAILABLE and 'unavailable' when every node is down, then 'available' when one returns", async () => {
    const servers = await nodes(2);
    const store = storeOn(servers, 1000);
    await store.set("before", { a: 1 });
    await Promise.all(servers.map((node) => node.stop()));
    await expect(store.get("before")).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await expect(store.set("during", { a: 1 })).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(store.events).toContain("unavailable");

    await (servers[0] as MemcachedServer).restart();
    await eventually("the store is available again", () => store.events.includes("available"));
    await eventually("operations work again", async () => {
      try {
        await store.set("after", { a: 2 });
        return true;
      } catch {
        return false;
      }
    });
    expect(await store.get("after")).toEqual({ a: 2 });
  });
});
