import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSessionStore, redisBackend, type SessionStore, type SessionStoreOptions } from "@sessionbridge/core";
import { rejection, uniquePrefix } from "../src/contract.js";
import { startRedis, testClient, type RedisServer } from "../src/redis.js";

/** Credentials, ACL permissions, TLS verification, db selection and a caller-owned client, on real servers. */

const stores: SessionStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

function open(options: Partial<SessionStoreOptions>): SessionStore {
  const store = createSessionStore({ timeoutMs: 1000, prefix: uniquePrefix("auth"), ...options });
  stores.push(store);
  return store;
}

let withPassword: RedisServer;
let withAcl: RedisServer;
let withTls: RedisServer;
let plain: RedisServer;

beforeAll(async () => {
  [withPassword, withAcl, withTls, plain] = await Promise.all([
    startRedis({ kind: "requirepass", password: "right-pass-123" }),
    startRedis({ kind: "acl", username: "alice", password: "alice-pass-456", keys: "sess:*" }),
    startRedis({ kind: "tls" }),
    startRedis({ kind: "plain" }),
  ]);
});

afterAll(async () => {
  await Promise.all([withPassword, withAcl, withTls, plain].map((server) => server?.dispose()));
});

describe("wrong credentials", () => {
  it("rejects with AUTH naming the server and the default user, never the password", async () => {
    const store = open({ url: `redis://:wrong-pass-789@127.0.0.1:${withPassword.port}` });
    const failure = await rejection(store.get("someone"));
    expect(failure.code).toBe("AUTH");
    expect(failure.message).toContain(`redis 127.0.0.1:${withPassword.port}`);
    expect(failure.message).toContain('user "default"');
    expect(failure.message).not.toContain("wrong-pass-789");
    expect(failure.message).not.toContain("right-pass-123");
    // Every operation says the same, quickly, while the credentials stay wrong.
    expect((await rejection(store.set("someone", { a: 1 }))).code).toBe("AUTH");
  });

  it("rejects with AUTH when a server requires a password and none is given", async () => {
    const store = open({ url: `redis://127.0.0.1:${withPassword.port}` });
    expect((await rejection(store.get("someone"))).code).toBe("AUTH");
  });

  it("rejects with AUTH naming the ACL user for a wrong password or an unknown user", async () => {
    const wrongPassword = open({ backend: redisBackend({ host: "127.0.0.1", port: withAcl.port, username: "alice", password: "nope-000" }) });
    const failure = await rejection(wrongPassword.get("someone"));
    expect(failure.code).toBe("AUTH");
    expect(failure.message).toContain('user "alice"');
    expect(failure.message).not.toContain("nope-000");

    const unknown = open({ url: `redis://mallory:alice-pass-456@127.0.0.1:${withAcl.port}` });
    const unknownFailure = await rejection(unknown.get("someone"));
    expect(unknownFailure.code).toBe("AUTH");
    expect(unknownFailure.message).toContain('user "mallory"');
    expect(unknownFailure.message).not.toContain("alice-pass-456");
  });

  it("names the ACL user of a caller's ioredis client in AUTH errors", async () => {
    const client = testClient({ host: "127.0.0.1", port: withAcl.port, username: "alice", password: "nope-111", lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    client.on("error", () => undefined);
    try {
      const store = open({ backend: redisBackend({ client }) });
      const failure = await rejection(store.get("someone"));
      expect(failure.code).toBe("AUTH");
      expect(failure.message).toContain('user "alice"');
      expect(failure.message).not.toContain("nope-111");
    } finally {
      client.disconnect();
    }
  });

  it("works with the right password given as an option instead of in the URL", async () => {
    const store = open({ backend: redisBackend({ host: "127.0.0.1", port: withPassword.port, password: "right-pass-123" }) });
    await store.set("someone", { a: 1 });
    expect(await store.get("someone")).toEqual({ a: 1 });
  });
});

describe("ACL permissions (NOPERM)", () => {
  it("rejects with AUTH explaining the key pattern when the prefix is outside the user's keys, without the session id", async () => {
    const store = open({ url: withAcl.url, prefix: "other:" });
    const failure = await rejection(store.set("secret-session-id", { a: 1 }));
    expect(failure.code).toBe("AUTH");
    expect(failure.message).toContain("NOPERM");
    expect(failure.message).toContain('user "alice"');
    expect(failure.message).toMatch(/ACL/);
    expect(failure.message).not.toContain("secret-session-id");
    expect(failure.message).not.toContain("alice-pass-456");
  });

  it("works inside the user's keys", async () => {
    const store = open({ url: withAcl.url, prefix: uniquePrefix("acl") });
    await store.set("someone", { a: 1 });
    expect(await store.get("someone")).toEqual({ a: 1 });
  });
});

describe("TLS", () => {
  it("verifies the server certificate by default: an unknown CA is refused", async () => {
    const store = open({ url: withTls.url });
    const failure = await rejection(store.get("someone"));
    expect(failure.code).toBe("UNAVAILABLE");
    expect(failure.message).toMatch(/TLS|certificate/i);
  });

  it("connects with the CA given in tls.ca, and checks the host name against the certificate", async () => {
    const good = open({ backend: redisBackend({ url: withTls.url, tls: { ca: withTls.tls!.caPem } }) });
    await good.set("someone", { a: 1 });
    expect(await good.get("someone")).toEqual({ a: 1 });

    const wrongName = open({ backend: redisBackend({ url: withTls.url, tls: { ca: withTls.tls!.caPem, servername: "elsewhere.example" } }) });
    expect((await rejection(wrongName.get("someone"))).code).toBe("UNAVAILABLE");
  });

  it("connects without verification only when rejectUnauthorized is explicitly false", async () => {
    const store = open({ backend: redisBackend({ url: withTls.url, tls: { rejectUnauthorized: false } }) });
    await store.set("someone", { a: 1 });
    expect(await store.get("someone")).toEqual({ a: 1 });
  });

  it("says the server speaks plain TCP when rediss:// meets a plain port, on every operation", async () => {
    // A plain Redis reads the TLS ClientHello as a command line and waits for its end: without the
    // check the client waited out its connect timeout and blamed "TIMEOUT".
    const store = open({ url: `rediss://127.0.0.1:${plain.port}` });
    for (const operation of [() => store.get("someone"), () => store.set("someone", { a: 1 }), () => store.ping()]) {
      const failure = await rejection(operation);
      expect(failure.code).toBe("CONFIG");
      expect(failure.message).toContain(`redis 127.0.0.1:${plain.port}: TLS is on, but the server speaks plain TCP`);
      expect(failure.message).toContain("redis://");
    }
  });

  it("says the port expects TLS when redis:// meets a TLS-only port, on every operation", async () => {
    const store = open({ url: `redis://127.0.0.1:${withTls.port}` });
    const events: string[] = [];
    store.on("unavailable", (error) => events.push(error.message));
    store.on("error", (error) => events.push(error.message));
    for (const operation of [() => store.get("someone"), () => store.set("someone", { a: 1 }), () => store.ping()]) {
      const failure = await rejection(operation);
      expect(failure.code).toBe("CONFIG");
      expect(failure.message).toContain(`redis 127.0.0.1:${withTls.port}: the server expects TLS`);
      expect(failure.message).toContain("rediss://");
    }
    expect(events.some((message) => message.includes("expects TLS"))).toBe(true);
  });

  it("turns TLS on for host/port options with tls: { ca }", async () => {
    const store = open({ backend: redisBackend({ host: "127.0.0.1", port: withTls.port, tls: { ca: withTls.tls!.caPem } }) });
    await store.ping();
  });
});

describe("database selection and caller-owned clients", () => {
  it("writes into the database named in the URL path", async () => {
    const store = open({ url: `${plain.url}/3` });
    await store.set("in-db-3", { a: 1 });
    const db3 = testClient({ host: "127.0.0.1", port: plain.port, db: 3 });
    const db0 = testClient({ host: "127.0.0.1", port: plain.port, db: 0 });
    try {
      const prefix = store.options.prefix;
      expect(await db3.exists(`${prefix}in-db-3`)).toBe(1);
      expect(await db0.exists(`${prefix}in-db-3`)).toBe(0);
    } finally {
      db3.disconnect();
      db0.disconnect();
    }
    expect(store.backend.label).toBe(`redis 127.0.0.1:${plain.port}/3`);
  });

  it("fails every operation with CONFIG naming a database the server does not have, and writes nothing to db 0", async () => {
    const store = open({ url: `${plain.url}/99` });
    const failure = await rejection(store.set("in-db-99", { a: 1 }));
    expect(failure.code).toBe("CONFIG");
    expect(failure.message).toContain("database 99 cannot be selected");
    expect(failure.message).toContain("databases 0–15");
    expect(failure.message).toContain("/99");
    for (const operation of [store.get("in-db-99"), store.set("other", { b: 2 }), store.ping()]) expect((await rejection(operation)).code).toBe("CONFIG");
    const db0 = testClient({ host: "127.0.0.1", port: plain.port, db: 0 });
    try {
      expect(await db0.keys(`${store.options.prefix}*`)).toEqual([]);
    } finally {
      db0.disconnect();
    }

    const byOption = open({ backend: redisBackend({ url: plain.url, db: 42 }) });
    expect((await rejection(byOption.get("someone"))).message).toContain("database 42 cannot be selected");
  });

  it("connects a lazy ioredis client it is given on first use", async () => {
    const client = testClient({ host: "127.0.0.1", port: plain.port, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    try {
      const store = open({ backend: redisBackend({ client }) });
      await store.set("lazy", { a: 1 });
      expect(await store.get("lazy")).toEqual({ a: 1 });
    } finally {
      client.disconnect();
    }
  });

  it("uses an ioredis client it is given and leaves it open on close", async () => {
    const client = testClient({ host: "127.0.0.1", port: plain.port, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    try {
      const store = open({ backend: redisBackend({ client }) });
      await store.set("someone", { a: 1 });
      expect(await store.get("someone")).toEqual({ a: 1 });
      await store.close();
      expect(await client.ping()).toBe("PONG");
    } finally {
      client.disconnect();
    }
  });
});
