import { createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { SessionStore } from "@sessionbridge/core";
import { eventually, rejection } from "../src/contract.js";
import { keysUnder, secret, useSecurityTargets } from "./security.targets.js";

const { targets, open, redis } = useSecurityTargets();
const userIdFrom = (data: Record<string, unknown>) => data.userId;
const newId = () => randomBytes(18).toString("base64url");

/** Logs a user in on a fresh session id, the way an adapter does (save with previous: null). */
async function login(store: SessionStore, userId: string, meta?: Record<string, string>): Promise<string> {
  const id = newId();
  const outcome = await store.save(id, { userId, visits: 0 }, { previous: null, ...(meta ? { meta } : {}) });
  expect(outcome.status).toBe("written");
  return id;
}

for (const target of targets.filter((t) => t.name !== "memcached")) {
  describe(`per-user sessions (${target.name})`, () => {
    it("lists a user's sessions with creation, last seen and meta, under handles that are not ids", async () => {
      const store = open(target, { userIdFrom });
      const before = Date.now();
      const phone = await login(store, "ada", { userAgent: "Phone", ip: "10.0.0.1" });
      const laptop = await login(store, "ada", { userAgent: "Laptop", ip: "10.0.0.2" });
      await login(store, "bob");
      const sessions = await store.sessionsOf("ada");
      expect(sessions).toHaveLength(2);
      expect(sessions.map((s) => s.meta.userAgent).sort()).toEqual(["Laptop", "Phone"]);
      for (const session of sessions) {
        expect(session.createdAtMs).toBeGreaterThanOrEqual(before);
        expect(session.lastSeenAtMs).toBeGreaterThanOrEqual(session.createdAtMs);
        expect(session.expiresAtMs).toBeGreaterThan(Date.now());
        expect([phone, laptop]).not.toContain(session.handle);
      }
      expect(sessions.map((s) => s.handle).sort()).toEqual([store.handleOf(phone), store.handleOf(laptop)].sort());
      expect(JSON.stringify(sessions)).not.toContain(phone);
      expect(JSON.stringify(sessions)).not.toContain(laptop);
      expect(await store.sessionsOf("nobody")).toEqual([]);
    });

    it("logs a user out everywhere except the current session", async () => {
      const store = open(target, { userIdFrom });
      const ids = [await login(store, "ada"), await login(store, "ada"), await login(store, "ada")];
      const other = await login(store, "bob");
      const [current] = ids as [string];
      expect(await store.destroySessionsOf("ada", { except: current })).toBe(2);
      expect(await store.get(current)).not.toBeNull();
      for (const id of ids.slice(1)) expect(await store.get(id)).toBeNull();
      expect(await store.get(other)).not.toBeNull();
      expect((await store.sessionsOf("ada")).map((s) => s.handle)).toEqual([store.handleOf(current)]);
      expect(await store.destroySessionsOf("ada")).toBe(1);
      expect(await store.get(current)).toBeNull();
    });

    it("revokes one session by its handle", async () => {
      const store = open(target, { userIdFrom });
      const keep = await login(store, "ada");
      const revoke = await login(store, "ada");
      expect(await store.destroySessionOf("ada", store.handleOf(revoke))).toBe(true);
      expect(await store.destroySessionOf("ada", store.handleOf(revoke))).toBe(false);
      // A handle of another user's session does nothing.
      const bobs = await login(store, "bob");
      expect(await store.destroySessionOf("ada", store.handleOf(bobs))).toBe(false);
      expect(await store.get(bobs)).not.toBeNull();
      expect(await store.get(revoke)).toBeNull();
      expect(await store.get(keep)).not.toBeNull();
    });

    it("untags a session at logout, and drops destroyed or re-owned sessions from the list", async () => {
      const store = open(target, { userIdFrom });
      const a = await login(store, "ada");
      const b = await login(store, "ada");
      const c = await login(store, "ada");
      const loaded = await store.load(a);
      await store.save(a, { visits: 1 }, { previous: loaded }); // userId removed: logged out, session kept
      await store.destroy(b);
      await store.set(c, { userId: "eve" }); // the same id now belongs to someone else
      expect(await store.sessionsOf("ada")).toEqual([]);
      expect((await store.sessionsOf("eve")).map((s) => s.handle)).toEqual([store.handleOf(c)]);
    });

    it("keeps only string meta, so a missing header never fails a save", async () => {
      const store = open(target, { userIdFrom });
      const meta = { userAgent: "x".repeat(2000), ip: undefined, port: 443 } as unknown as Record<string, string>;
      const id = await login(store, "ada", meta);
      expect((await store.load(id))?.meta).toEqual({ userAgent: "x".repeat(512) });
    });

    it("tags a session with the userId save option when no userIdFrom is configured", async () => {
      const store = open(target);
      const id = newId();
      await store.save(id, { visits: 1 }, { previous: null, userId: "ada" });
      const loaded = await store.load(id);
      expect(loaded?.userId).toBe("ada");
      await store.save(id, { visits: 2 }, { previous: loaded }); // the tag stays
      expect((await store.sessionsOf("ada")).length).toBe(1);
    });

    it("keeps at most maxSessionsPerUser sessions, destroying the oldest at login", async () => {
      const store = open(target, { userIdFrom, maxSessionsPerUser: 2 });
      // "Oldest" is by creation time in ms: make sure each login is in a later millisecond.
      const later = async (since: number) => eventually("the clock moved on", () => Date.now() > since, 1000, 1);
      const first = await login(store, "ada");
      await later(Date.now());
      const second = await login(store, "ada");
      await later(Date.now());
      const third = await login(store, "ada");
      expect(await store.get(first)).toBeNull();
      expect(await store.get(second)).not.toBeNull();
      expect(await store.get(third)).not.toBeNull();
      expect((await store.sessionsOf("ada")).length).toBe(2);
    });

    it("keeps a session revocable while its TTL slides on reads alone, past several TTLs", async () => {
      // Long enough that a read delayed by a busy machine does not let the session lapse by itself.
      const ttlMs = 1500;
      for (const touchAfterMs of [0, 500]) {
        const store = open(target, { userIdFrom, ttlMs, touchAfterMs });
        const id = await login(store, "ada");
        const startedAt = Date.now();
        // Read it (as page views do) until it has lived well past TTL + the index slack, twice over.
        await eventually("the session outlived its first index entry", async () => {
          expect(await store.get(id)).not.toBeNull();
          return Date.now() - startedAt > 3.5 * ttlMs; // the first index entry lapses after 2 × ttlMs
        }, 30_000, 100);
        expect((await store.sessionsOf("ada")).length).toBe(1);
        expect(await store.destroySessionsOf("ada")).toBe(1);
        expect(await store.get(id)).toBeNull();
      }
    });

    it("stores no session id in the index when keys are hashed", async () => {
      const keySecret = secret();
      const store = open(target, { userIdFrom, keySecret });
      const id = await login(store, "ada@example.com");
      expect((await store.sessionsOf("ada@example.com")).length).toBe(1);
      const index = `${store.prefix}~u.${createHmac("sha256", keySecret).update("user\u0000ada@example.com").digest("base64url")}`;
      const keys = await keysUnder(store);
      // The session and (on Redis, whose scan sees every key) the user's index.
      expect(keys).toHaveLength(target.name === "redis" ? 2 : 1);
      if (target.name === "redis") expect(keys).toContain(index);
      expect(keys.join(" ")).not.toContain(id);
      expect(keys.join(" ")).not.toContain("ada@example.com");
      const members = await store.backend.indexList!(index, Date.now());
      expect(members).toHaveLength(1);
      expect(members.map((m) => m.member).join(" ")).not.toContain(id);
      // ids() lists sessions, not index keys.
      const ids: string[] = [];
      for await (const listed of store.ids()) ids.push(listed);
      expect(ids).toHaveLength(1);
      expect(await store.length()).toBe(1);
    });

    it("logs out everywhere across a key-secret rotation", async () => {
      const [oldSecret, newSecret] = [secret(), secret()];
      const before = open(target, { userIdFrom, keySecret: oldSecret });
      const moved = await login(before, "ada");
      const notYetMoved = await login(before, "ada");
      const after = open(target, { userIdFrom, keySecret: [newSecret, oldSecret], prefix: before.prefix });
      expect(await after.get(moved)).not.toBeNull(); // moved to the new key (and the new index)
      const fresh = await login(after, "ada");
      expect((await after.sessionsOf("ada")).length).toBe(3);
      expect(await after.destroySessionsOf("ada", { except: fresh })).toBe(2);
      expect(await after.get(moved)).toBeNull();
      expect(await after.get(notYetMoved)).toBeNull();
      expect(await after.get(fresh)).not.toBeNull();
    });

    it("stays consistent when many instances log the same user in at once", async () => {
      const shared = open(target, { userIdFrom });
      // Separate stores (separate connections), like separate web instances.
      const instances = Array.from({ length: 4 }, () => open(target, { userIdFrom, prefix: shared.prefix }));
      const ids = await Promise.all(Array.from({ length: 24 }, (_, i) => login(instances[i % instances.length]!, "ada")));
      expect((await shared.sessionsOf("ada")).length).toBe(24);
      expect(await shared.destroySessionsOf("ada")).toBe(24);
      for (const id of ids) expect(await shared.get(id)).toBeNull();
    });

    it("keeps the index exact under a burst of simultaneous logins with maxSessionsPerUser, and the limit from the next login on", async () => {
      const shared = open(target, { userIdFrom });
      const instances = Array.from({ length: 4 }, () => open(target, { userIdFrom, prefix: shared.prefix, maxSessionsPerUser: 3 }));
      const ids = await Promise.all(Array.from({ length: 16 }, (_, i) => login(instances[i % instances.length]!, "ada")));
      const alive = (await Promise.all(ids.map((id) => shared.get(id)))).filter((data) => data !== null).length;
      // Logins that cannot see each other yet may each keep a different set (docs/security.md): the
      // index still lists exactly the sessions that exist, and at least one login survives.
      expect(alive).toBeGreaterThanOrEqual(1);
      expect((await shared.sessionsOf("ada")).length).toBe(alive);
      // The next login on its own sees them all and applies the limit.
      await login(instances[0]!, "ada");
      expect((await shared.sessionsOf("ada")).length).toBe(Math.min(3, alive + 1));
    });

    it("refuses an id in the index's reserved form", async () => {
      const store = open(target);
      expect((await rejection(store.set("~u.x", { a: 1 }))).code).toBe("INVALID_ID");
      expect((await rejection(store.get("~u.x"))).code).toBe("INVALID_ID");
    });
  });
}

describe("per-user index on Redis", () => {
  const target = targets.find((t) => t.name === "redis")!;

  it("keeps the index key at least as long as its longest session, and lets it expire with them", async () => {
    const store = open(target, { userIdFrom, ttlMs: 1000 });
    await login(store, "ada");
    const longer = newId();
    await store.save(longer, { userId: "ada" }, { previous: null, ttlMs: 1500 });
    const index = (await keysUnder(store)).find((key) => key.startsWith(`${store.prefix}~u.`))!;
    const sessionTtl = Number(await redis().command("pttl", store.prefix + longer));
    const indexTtl = Number(await redis().command("pttl", index));
    expect(indexTtl).toBeGreaterThanOrEqual(sessionTtl);
    expect(await redis().command("type", index)).toBe("zset");
    // Nobody comes back: the sessions expire, then the index goes by itself (no leak).
    await eventually("the index key expired", async () => Number(await redis().command("exists", index)) === 0, 20_000, 100);
    expect(await keysUnder(store)).toEqual([]);
  });
});

describe("a foreign value at a user's index key (Redis WRONGTYPE)", () => {
  const target = targets.find((t) => t.name === "redis")!;
  const indexKeyOf = async (store: SessionStore & { prefix: string }) => (await keysUnder(store)).find((key) => key.startsWith(`${store.prefix}~u.`))!;

  it.each([
    ["a string", ["set", "not an index"]],
    ["a hash", ["hset", "field", "value"]],
  ])("is reported as corrupt and replaced: with %s there, logins, listing and log out everywhere still work", async (_kind, write) => {
    const store = open(target, { userIdFrom, maxSessionsPerUser: 5 });
    const corrupt: Error[] = [];
    store.on("corrupt", (error) => corrupt.push(error));
    const [command, ...args] = write as [string, ...string[]];
    await login(store, "ada");
    const index = await indexKeyOf(store);

    // Log out everywhere: the broken index is reported and dropped, never an error.
    await redis().command("del", index);
    await redis().command(command, index, ...args);
    expect(await store.destroySessionsOf("ada")).toBe(0);
    expect(corrupt.map((error) => error.message).join()).toMatch(/WRONGTYPE/);

    // A login (with maxSessionsPerUser, it also lists) replaces it with a fresh index.
    await redis().command(command, index, ...args);
    const phone = await login(store, "ada");
    const laptop = await login(store, "ada");
    expect(await redis().command("type", index)).toBe("zset");
    expect((await store.sessionsOf("ada")).map((s) => s.handle).sort()).toEqual([store.handleOf(phone), store.handleOf(laptop)].sort());

    // Listing and "log out everywhere" on a broken index: empty, and the logout itself still works.
    await redis().command("del", index);
    await redis().command(command, index, ...args);
    expect(await store.sessionsOf("ada")).toEqual([]);
    await redis().command(command, index, ...args);
    const tablet = await login(store, "ada");
    expect(await store.destroySessionsOf("ada", { except: tablet })).toBe(0);
    expect(await store.destroySessionsOf("ada")).toBe(1);
    expect(await store.get(tablet)).toBeNull();
    // A user switch on a session (untagging it from the old user's broken index) still saves.
    const shared = await login(store, "ada");
    await redis().command("del", index);
    await redis().command(command, index, ...args);
    const loaded = await store.load(shared);
    expect((await store.save(shared, { userId: "bob" }, { previous: loaded })).status).toBe("written");
    expect(corrupt.length).toBeGreaterThanOrEqual(4);
  });

  it("reads a session key holding another type of value as no session, reported as corrupt", async () => {
    const store = open(target, { userIdFrom });
    const corrupt: Error[] = [];
    store.on("corrupt", (error) => corrupt.push(error));
    await redis().command("hset", `${store.prefix}foreign`, "field", "value");
    expect(await store.get("foreign")).toBeNull();
    expect(await store.touch("foreign")).toBe(false);
    expect(corrupt).toHaveLength(2);
  });
});

describe("per-user sessions on Memcached", () => {
  const target = targets.find((t) => t.name === "memcached")!;

  it("answers UNSUPPORTED (no consistent set type to keep an index in) and refuses maxSessionsPerUser", async () => {
    const store = open(target, { userIdFrom });
    const id = await login(store, "ada"); // tagging still works: the user id is kept in the record
    expect((await store.load(id))?.userId).toBe("ada");
    expect((await rejection(store.sessionsOf("ada"))).code).toBe("UNSUPPORTED");
    expect((await rejection(store.destroySessionsOf("ada"))).code).toBe("UNSUPPORTED");
    expect((await rejection(async () => open(target, { maxSessionsPerUser: 3 }))).code).toBe("CONFIG");
  });
});
