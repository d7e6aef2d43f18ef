import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { createSessionStore, redisBackend, SessionStoreError, type RedisBackendOptions } from "../src/index.js";
import { resolveRedisOptions } from "../src/backends/redis/options.js";

/** Redis options are validated at construction, naming the option; credentials never reach messages or labels. */
function configFailure(options: unknown): SessionStoreError {
  try {
    resolveRedisOptions(options as RedisBackendOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(SessionStoreError);
    expect((error as SessionStoreError).code).toBe("CONFIG");
    return error as SessionStoreError;
  }
  throw new Error("expected a CONFIG error");
}

function endpoint(options: RedisBackendOptions) {
  const resolved = resolveRedisOptions(options);
  if (resolved.kind !== "endpoint") throw new Error("expected an endpoint");
  return resolved;
}

describe("redis URL", () => {
  it("reads host, port, db, user and percent-encoded password", () => {
    const { endpoint: e, label } = endpoint({ url: "redis://app%40svc:p%3Ass%2Fw0rd@cache.internal:6380/2" });
    expect(e).toMatchObject({ host: "cache.internal", port: 6380, db: 2, username: "app@svc", password: "p:ss/w0rd", tls: undefined });
    expect(label).toBe("redis cache.internal:6380/2");
  });

  it("defaults to port 6379 and db 0, and a password without a user uses the default user", () => {
    const { endpoint: e, label } = endpoint({ url: "redis://:token@10.0.0.5" });
    expect(e).toMatchObject({ host: "10.0.0.5", port: 6379, db: 0, username: undefined, password: "token" });
    expect(label).toBe("redis 10.0.0.5:6379");
  });

  it("turns TLS on for rediss:// with verification left on", () => {
    const { endpoint: e } = endpoint({ url: "rediss://primary.example.cache.amazonaws.com:6379" });
    expect(e.tls).toEqual({});
    expect(e.tls?.rejectUnauthorized).not.toBe(false);
  });

  it("reads valkey:// as redis:// and valkeys:// as rediss://", async () => {
    const { endpoint: plain, label } = endpoint({ url: "valkey://:token@valkey.internal:6390/3" });
    expect(plain).toMatchObject({ host: "valkey.internal", port: 6390, db: 3, password: "token", tls: undefined });
    expect(label).toBe("redis valkey.internal:6390/3");
    expect(endpoint({ url: "VALKEYS://cache.example:6380" }).endpoint.tls).toEqual({});
    const backend = redisBackend({ url: "valkey://127.0.0.1:6379", readers: ["valkeys://reader.example:6379"] });
    expect(backend.label).toBe("redis 127.0.0.1:6379");
    await backend.close();
    const store = createSessionStore({ url: "valkeys://:token@cache.example:6380" });
    expect(store.backend.label).toBe("redis cache.example:6380");
    await store.close();
  });

  it("reads IPv6 hosts", () => {
    const { endpoint: e, label } = endpoint({ url: "redis://[::1]:7000" });
    expect(e.host).toBe("::1");
    expect(label).toBe("redis [::1]:7000");
  });

  it("lets options override the URL's parts", () => {
    const { endpoint: e } = endpoint({ url: "redis://:old@h:1/1", password: "new", db: 4, tls: { servername: "h.example" } });
    expect(e).toMatchObject({ password: "new", db: 4, tls: { servername: "h.example" } });
  });

  it.each([
    ["not a URL", "u:s3cr3t@cache:6379"],
    ["another scheme", "http://u:s3cr3t@cache:6379"],
    ["a bad db path", "redis://u:s3cr3t@cache:6379/abc"],
    ["a query string", "redis://cache:6379?password=s3cr3t"],
    ["a user without password", "redis://s3cr3t@cache:6379"],
    ["port 0", "redis://u:s3cr3t@cache:0"],
  ])("rejects %s with CONFIG naming url, never echoing it", (_, url) => {
    const error = configFailure({ url });
    expect(error.message).toContain('"url"');
    expect(error.message).not.toContain("s3cr3t");
  });
});

describe("redis options", () => {
  it("defaults to 127.0.0.1:6379", () => {
    expect(endpoint({}).label).toBe("redis 127.0.0.1:6379");
  });

  it.each<[string, Record<string, unknown>]>([
    ["host", { host: "" }],
    ["host", { url: "redis://a", host: "b" }],
    ["port", { port: 70_000 }],
    ["db", { db: -1 }],
    ["db", { db: 1.5 }],
    ["username", { username: "" }],
    ["password", { password: 42 }],
    ["password", { username: "alice" }],
    ["tls", { url: "rediss://a", tls: false }],
    ["tls", { tls: "yes" }],
    ["tls.ca", { tls: { ca: 42 } }],
    ["tls.cert", { tls: { key: "k" } }],
    ["tls.rejectUnauthorized", { tls: { rejectUnauthorized: "no" } }],
    ["tls.verify", { tls: { verify: false } }],
    ["hots", { hots: "typo" }],
    ["client", { client: { get: () => null } }],
  ])("rejects a bad %s with CONFIG naming it", (option, options) => {
    expect(configFailure(options).message).toContain(`"${option}"`);
  });

  it("never shows a password or TLS key in a CONFIG message", () => {
    expect(configFailure({ tls: { cert: "CERT", key: 42 } }).message).not.toContain("42");
    expect(configFailure({ password: "", username: "" }).message).not.toMatch(/password.*:/);
  });

  it("refuses a database other than 0 for a Redis Cluster at construction", () => {
    let failure: unknown;
    try {
      redisBackend({ url: "redis://127.0.0.1:7000/3", cluster: true });
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(SessionStoreError);
    expect((failure as SessionStoreError).code).toBe("CONFIG");
    expect((failure as SessionStoreError).message).toMatch(/"db".*only database 0.*got 3/);
  });

  it("takes an ioredis client and refuses connection options next to it", () => {
    const client = new Redis({ host: "127.0.0.1", port: 6399, lazyConnect: true });
    try {
      const resolved = resolveRedisOptions({ client });
      expect(resolved).toMatchObject({ kind: "client", label: "redis 127.0.0.1:6399" });
      expect(configFailure({ client, url: "redis://x" }).message).toContain('"url"');
    } finally {
      client.disconnect();
    }
  });

  it("builds a backend without connecting until it is used, and closes cleanly", async () => {
    const backend = redisBackend({ url: "redis://:secret@127.0.0.1:6399" });
    expect(backend.label).toBe("redis 127.0.0.1:6399");
    expect(backend.capabilities).toMatchObject({ scan: true, compareAndSet: true });
    await backend.close();
  });
});
