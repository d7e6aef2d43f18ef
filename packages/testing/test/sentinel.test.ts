import { createServer, type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createSessionStore, redisBackend } from "@sessionbridge/core";
import { backendContract, rejection, uniquePrefix } from "../src/contract.js";
import { makeTlsFiles, type TlsFiles } from "../src/redis.js";
import { commandCalls, startSentinelTopology, type SentinelTopology } from "../src/redis-topologies.js";
import { tempDir } from "../src/process.js";

// Sentinel with AUTH on the data nodes and on the sentinels themselves; and the same over TLS.
const password = "data-node-secret";
const sentinelPassword = "sentinel-secret";
let plain: SentinelTopology;
let secure: SentinelTopology;
let tls: TlsFiles;
const certDir = tempDir("sentinel-tls");

beforeAll(async () => {
  tls = makeTlsFiles(certDir.path);
  [plain, secure] = await Promise.all([
    startSentinelTopology({ replicas: 1, sentinels: 1, password, sentinelPassword }),
    startSentinelTopology({ replicas: 1, sentinels: 1, password, sentinelPassword, tls }),
  ]);
});
afterAll(async () => {
  await Promise.all([plain?.stop(), secure?.stop()]);
  certDir.remove();
});

backendContract({
  name: "redis sentinel (AUTH to sentinels and nodes), readFrom replica",
  backend: () => redisBackend({ sentinels: plain.sentinelAddresses(), name: plain.name, password, sentinelPassword, readFrom: "replica" }),
});

backendContract({
  name: "redis sentinel over TLS (sentinelTLS + TLS to the nodes), readFrom replica-preferred",
  backend: () =>
    redisBackend({
      sentinels: secure.sentinelAddresses(),
      name: secure.name,
      password,
      sentinelPassword,
      tls: { ca: tls.caPem },
      sentinelTLS: { ca: tls.caPem },
      readFrom: "replica-preferred",
    }),
});

describe("sentinel specifics", () => {
  it("writes through the master the sentinels name and reads on its replica", async () => {
    const store = createSessionStore({ prefix: "sess:snt:", backend: redisBackend({ sentinels: plain.sentinelAddresses(), name: plain.name, password, sentinelPassword, readFrom: "replica" }) });
    try {
      const id = uniquePrefix("where");
      await store.set(id, { v: 1 });
      expect(await plain.primary.command("GET", `sess:snt:${id}`)).not.toBeNull();
      await plain.primary.command("WAIT", 1, 5000);
      const replica = plain.replicas[0]!;
      await replica.command("CONFIG", "RESETSTAT");
      // A second store: nothing of the first one's "just wrote it" memory, so the read goes to the replica.
      const other = createSessionStore({ prefix: "sess:snt:", backend: redisBackend({ sentinels: plain.sentinelAddresses(), name: plain.name, password, sentinelPassword, readFrom: "replica" }) });
      try {
        expect(await other.get(id)).toEqual({ v: 1 });
      } finally {
        await other.close();
      }
      expect((await commandCalls(replica)).get).toBe(1);
    } finally {
      await store.close();
    }
  });

  it("fails with AUTH, naming the sentinel set and never the password, when the sentinel password is wrong", async () => {
    const store = createSessionStore({ timeoutMs: 1000, backend: redisBackend({ sentinels: plain.sentinelAddresses(), name: plain.name, password, sentinelPassword: "wrong-sentinel-pw" }) });
    try {
      const failure = await rejection(store.get("x"));
      expect(failure.code, failure.message).toBe("AUTH");
      expect(failure.message).toContain("sentinel");
      expect(failure.message).not.toContain("wrong-sentinel-pw");
      expect(failure.message).not.toContain(password);
    } finally {
      await store.close();
    }
  });

  it("never leaves an ioredis 'Unhandled error event' behind when a sentinel resets the failover detector's connection", async () => {
    // Listed second, the master is resolved through the real sentinel; only ioredis's failover detector,
    // which subscribes on every sentinel, connects to the resetting one.
    await withResettingSentinel(1, async (sentinels, wereReset) => {
      const store = createSessionStore({ timeoutMs: 2000, backend: redisBackend({ sentinels, name: plain.name, password, sentinelPassword }) });
      try {
        await store.set("detector", { a: 1 });
        await wereReset;
        // The reset was pending on the socket before these round trips began, so its error event has been
        // handled once they are done.
        expect(await store.get("detector")).toEqual({ a: 1 });
        expect(await store.get("detector")).toEqual({ a: 1 });
      } finally {
        await store.close();
      }
    });
  });

  it("never leaves an ioredis 'Unhandled error event' behind from the subscription connection's own failover detector", async () => {
    // Subscriptions run on a duplicate of the client, which is a Sentinel client with a failover detector
    // of its own: its sentinel connections need a listener too. Both detectors connect to the resetting
    // "sentinel"; the message published after both resets shows the subscription works through them.
    await withResettingSentinel(2, async (sentinels, wereReset) => {
      const backend = redisBackend({ sentinels, name: plain.name, password, sentinelPassword });
      const store = createSessionStore({ timeoutMs: 2000, backend });
      try {
        let got!: (message: string) => void;
        const received = new Promise<string>((resolve) => (got = resolve));
        const off = backend.subscribe?.("sb-detector-test", { message: (message) => got(message), reset: () => undefined });
        await wereReset;
        // Publish until the subscription is in place (it starts once its connection is ready).
        let message: string | undefined;
        for (let attempt = 0; attempt < 50 && message === undefined; attempt++) {
          await backend.publish?.("sb-detector-test", "hello");
          message = await Promise.race([received, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 100))]);
        }
        off?.();
        expect(message).toBe("hello");
        expect(await store.get("nothing")).toBeNull();
      } finally {
        await store.close();
      }
    });
  });
});

/**
 * Runs `body` with the plain topology's sentinels plus a "sentinel" that resets every connection, and
 * fails if ioredis printed an "Unhandled error event" meanwhile. `wereReset` resolves after `resets` resets.
 */
async function withResettingSentinel(resets: number, body: (sentinels: Array<{ host: string; port: number }>, wereReset: Promise<void>) => Promise<void>): Promise<void> {
  let count = 0;
  let done!: () => void;
  const wereReset = new Promise<void>((resolve) => (done = resolve));
  const resetting = createServer((socket) => {
    socket.on("error", () => undefined);
    socket.resetAndDestroy();
    if (++count === resets) done();
  });
  await new Promise<void>((resolve) => resetting.listen(0, "127.0.0.1", resolve));
  const port = (resetting.address() as AddressInfo).port;
  const printed = vi.spyOn(console, "error");
  try {
    await body([...plain.sentinelAddresses(), { host: "127.0.0.1", port }], wereReset);
    const unhandled = printed.mock.calls.filter((args) => String(args[0]).includes("Unhandled error event"));
    expect(unhandled).toEqual([]);
  } finally {
    printed.mockRestore();
    await new Promise((resolve) => resetting.close(resolve));
  }
}
