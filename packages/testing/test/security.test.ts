import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createSessionStore, memoryBackend, type SessionStoreError } from "@sessionbridge/core";
import { eventually, rejection } from "../src/contract.js";
import { aesKey, keysUnder, secret, useSecurityTargets } from "./security.targets.js";

const { targets, open } = useSecurityTargets();

for (const target of targets) {
  const canScan = target.name !== "memcached";

  describe(`hashed keys at rest (${target.name})`, () => {
    it("stores a session under prefix + HMAC-SHA256 of its id, never under the id itself", async () => {
      const keySecret = secret();
      const store = open(target, { keySecret });
      await store.set("plain-id-visible?", { user: "ada" });
      const hmac = createHmac("sha256", keySecret).update("plain-id-visible?").digest("base64url");
      expect(await store.backend.get(store.prefix + hmac)).not.toBeNull();
      expect(await store.backend.get(store.prefix + "plain-id-visible?")).toBeNull();
      expect(await store.get("plain-id-visible?")).toEqual({ user: "ada" });
      expect(store.options.hashedKeys).toBe(true);
      if (canScan) {
        const keys = await keysUnder(store);
        expect(keys).toEqual([store.prefix + hmac]);
        // ids() yields the HMACs: they name the stored entries but do not open a session.
        const ids: string[] = [];
        for await (const id of store.ids()) ids.push(id);
        expect(ids).toEqual([hmac]);
        expect(await store.get(hmac)).toBeNull();
      }
    });

    it("does not find a session with another secret", async () => {
      const first = open(target, { keySecret: secret() });
      await first.set("sid-1", { a: 1 });
      const second = open(target, { keySecret: secret(), prefix: first.prefix });
      expect(await second.get("sid-1")).toBeNull();
    });

    it("rotates the secret without logging anybody out, and moves the session to the new key", async () => {
      const [oldSecret, newSecret] = [secret(), secret()];
      const before = open(target, { keySecret: oldSecret });
      await before.set("rotating", { n: 1 }, { ttlMs: 60_000 });
      const after = open(target, { keySecret: [newSecret, oldSecret], prefix: before.prefix });
      const loaded = await after.load("rotating");
      expect(loaded?.data).toEqual({ n: 1 });
      const oldKey = before.prefix + createHmac("sha256", oldSecret).update("rotating").digest("base64url");
      const newKey = before.prefix + createHmac("sha256", newSecret).update("rotating").digest("base64url");
      expect(await after.backend.get(oldKey)).toBeNull();
      expect(await after.backend.get(newKey)).not.toBeNull();
      // A request that loaded before the move still saves (the copy kept its version).
      expect((await after.save("rotating", { n: 2 }, { previous: loaded })).status).toBe("written");
      // Once the old secret is dropped the session is still there.
      const later = open(target, { keySecret: newSecret, prefix: before.prefix });
      expect(await later.get("rotating")).toEqual({ n: 2 });
    });

    it("destroys a session under every listed secret", async () => {
      const [oldSecret, newSecret] = [secret(), secret()];
      const before = open(target, { keySecret: oldSecret });
      await before.set("logout-during-rotation", { n: 1 });
      const after = open(target, { keySecret: [newSecret, oldSecret], prefix: before.prefix });
      await after.destroy("logout-during-rotation");
      expect(await before.get("logout-during-rotation")).toBeNull();
      expect(await after.get("logout-during-rotation")).toBeNull();
    });
  });

  describe(`encryption at rest (${target.name})`, () => {
    it("stores no session data in clear and reads it back", async () => {
      const store = open(target, { encryptionKeys: [{ id: "k1", key: aesKey() }] });
      await store.set("enc", { card: "4111-1111-1111-1111", name: "Ada Lovelace" });
      const raw = (await store.backend.get(store.prefix + "enc")) as string;
      expect(raw).toMatch(/^sb1:[A-Za-z0-9_-]{12}:e1\.k1\./);
      expect(raw).not.toContain("4111");
      expect(raw).not.toContain("Ada");
      expect(await store.get("enc")).toEqual({ card: "4111-1111-1111-1111", name: "Ada Lovelace" });
    });

    it("treats a tampered record as no session and emits 'corrupt'", async () => {
      const store = open(target, { encryptionKeys: [{ id: "k1", key: aesKey() }] });
      await store.set("tamper", { role: "user" });
      const raw = (await store.backend.get(store.prefix + "tamper")) as string;
      const last = raw.at(-2) === "A" ? "B" : "A";
      await store.backend.set(store.prefix + "tamper", raw.slice(0, -2) + last + raw.slice(-1), 60_000);
      const corrupt = new Promise<SessionStoreError>((resolve) => store.once("corrupt", resolve));
      expect(await store.get("tamper")).toBeNull();
      expect((await corrupt).code).toBe("CORRUPT");
    });

    it("binds a record to its key: a value copied under another session's key does not open", async () => {
      const store = open(target, { encryptionKeys: [{ id: "k1", key: aesKey() }] });
      await store.set("victim", { role: "admin" });
      await store.set("attacker", { role: "user" });
      const raw = (await store.backend.get(store.prefix + "victim")) as string;
      await store.backend.set(store.prefix + "attacker", raw, 60_000);
      const corrupt = new Promise<SessionStoreError>((resolve) => store.once("corrupt", resolve));
      expect(await store.get("attacker")).toBeNull();
      expect((await corrupt).code).toBe("CORRUPT");
      expect(await store.get("victim")).toEqual({ role: "admin" });
    });

    it("rotates keys: records sealed with an older listed key still open, new writes use the newest", async () => {
      const oldKey = { id: "2024", key: aesKey() };
      const newKey = { id: "2025", key: aesKey() };
      const before = open(target, { encryptionKeys: [oldKey] });
      await before.set("rot", { n: 1 });
      const after = open(target, { encryptionKeys: [newKey, oldKey], prefix: before.prefix });
      const loaded = await after.load("rot");
      expect(loaded?.data).toEqual({ n: 1 });
      await after.save("rot", { n: 2 }, { previous: loaded });
      expect(await after.backend.get(after.prefix + "rot")).toMatch(/:e1\.2025\./);
      // A session that is only read is sealed again with the newest key on that read.
      await before.set("read-only", { n: 3 });
      expect(await before.backend.get(before.prefix + "read-only")).toMatch(/:e1\.2024\./);
      expect(await after.get("read-only")).toEqual({ n: 3 });
      expect(await after.backend.get(after.prefix + "read-only")).toMatch(/:e1\.2025\./);
      // Once every live session was read or written (or expired), the old key can go.
      const only = open(target, { encryptionKeys: [newKey], prefix: before.prefix });
      expect(await only.get("rot")).toEqual({ n: 2 });
      expect(await only.get("read-only")).toEqual({ n: 3 });
    });

    it("treats a record sealed with an unlisted key as no session", async () => {
      const before = open(target, { encryptionKeys: [{ id: "gone", key: aesKey() }] });
      await before.set("unlisted", { n: 1 });
      const after = open(target, { encryptionKeys: [{ id: "new", key: aesKey() }], prefix: before.prefix });
      expect(await after.get("unlisted")).toBeNull();
      // A key with the same id but other bytes does not open it either.
      const impostor = open(target, { encryptionKeys: [{ id: "gone", key: aesKey() }], prefix: before.prefix });
      expect(await impostor.get("unlisted")).toBeNull();
    });

    it("refuses unencrypted records unless allowUnencryptedReads is on", async () => {
      const plain = open(target);
      await plain.set("legacy", { n: 1 });
      const strict = open(target, { encryptionKeys: [{ id: "k", key: aesKey() }], prefix: plain.prefix });
      expect(await strict.get("legacy")).toBeNull();
      await plain.set("legacy", { n: 1 });
      const lenient = open(target, { encryptionKeys: [{ id: "k", key: aesKey() }], allowUnencryptedReads: true, prefix: plain.prefix });
      // Read once, it is sealed on the spot.
      expect(await lenient.get("legacy")).toEqual({ n: 1 });
      expect(await lenient.backend.get(lenient.prefix + "legacy")).toMatch(/:e1\.k\./);
    });

    it("combines hashed keys and encryption", async () => {
      const store = open(target, { keySecret: secret(), encryptionKeys: [{ id: "k", key: aesKey() }] });
      await store.set("both", { secret: "value" });
      expect(await store.get("both")).toEqual({ secret: "value" });
      expect(await store.backend.get(store.prefix + "both")).toBeNull();
    });
  });

  describe(`idle and absolute timeouts (${target.name})`, () => {
    const resolution = target.ttlResolutionMs;
    const short = Math.max(1200, 3 * resolution);

    it("caps a long 'remember me' TTL at the absolute lifetime", async () => {
      const store = open(target, { ttlMs: 60_000, maxLifetimeMs: short });
      await store.set("remember", { a: 1 }, { ttlMs: 3_600_000 });
      const loaded = await store.load("remember");
      expect(loaded!.expiresAtMs - loaded!.createdAtMs).toBeLessThanOrEqual(short + resolution);
      await eventually("the session passed its absolute lifetime", async () => (await store.get("remember")) === null);
    });

    it("does not let touch() extend a session past its absolute lifetime", async () => {
      const store = open(target, { ttlMs: 60_000, maxLifetimeMs: short });
      await store.set("touched", { a: 1 });
      let touches = 0;
      await eventually("touch() reported the session gone", async () => {
        touches++;
        return !(await store.touch("touched"));
      });
      expect(touches).toBeGreaterThan(1);
      expect(await store.get("touched")).toBeNull();
    });

    it("keeps the creation time through saves, so the lifetime counts from the first login", async () => {
      const store = open(target, { ttlMs: 60_000, maxLifetimeMs: 600_000 });
      await store.set("created", { a: 1 }, { createdAtMs: Date.now() - 599_000 });
      const loaded = await store.load("created");
      const saved = await store.save("created", { a: 2 }, { previous: loaded });
      expect(saved.status).toBe("written");
      expect((await store.load("created"))?.createdAtMs).toBe(loaded?.createdAtMs);
      expect((await store.load("created"))!.expiresAtMs).toBeLessThanOrEqual(loaded!.createdAtMs + 600_000 + resolution);
    });
  });
}

describe("secret and key validation", () => {
  const key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

  it("refuses an encryption key that is not 32 bytes, naming the option and never the key", async () => {
    const short = "c2hvcnQta2V5LW1hdGVyaWFsLXNob3VsZC1uZXZlci1sZWFr";
    const error = await rejection(async () => createSessionStore({ backend: memoryBackend(), encryptionKeys: [{ id: "a", key: short }] }));
    expect(error.code).toBe("CONFIG");
    expect(error.message).toContain("encryptionKeys[0].key");
    expect(error.message).not.toContain(short);
    const bytes = await rejection(async () => createSessionStore({ backend: memoryBackend(), encryptionKeys: [{ id: "a", key: Buffer.alloc(16, 7) }] }));
    expect(bytes.message).toContain("got 16 bytes");
  });

  it("accepts 32-byte keys as a Buffer, hex or base64", async () => {
    for (const k of [Buffer.from(key, "hex"), key, Buffer.from(key, "hex").toString("base64"), Buffer.from(key, "hex").toString("base64url")]) {
      const store = createSessionStore({ backend: memoryBackend(), encryptionKeys: [{ id: "a", key: k }] });
      await store.set("x", { ok: true });
      expect(await store.get("x")).toEqual({ ok: true });
      await store.close();
    }
  });

  it("refuses an empty keyring, duplicate key ids and bad key ids", async () => {
    expect((await rejection(async () => createSessionStore({ backend: memoryBackend(), encryptionKeys: [] }))).message).toContain("encryptionKeys");
    expect((await rejection(async () => createSessionStore({ backend: memoryBackend(), encryptionKeys: [{ id: "a", key }, { id: "a", key }] }))).message).toContain("encryptionKeys[1].id");
    expect((await rejection(async () => createSessionStore({ backend: memoryBackend(), encryptionKeys: [{ id: "has space", key }] }))).message).toContain("encryptionKeys[0].id");
  });

  it("refuses a short key secret, naming the option and never the secret", async () => {
    const weak = "hunter2-is-a-weak-secret";
    const error = await rejection(async () => createSessionStore({ backend: memoryBackend(), keySecret: weak }));
    expect(error.code).toBe("CONFIG");
    expect(error.message).toContain('"keySecret"');
    expect(error.message).not.toContain(weak);
    const listed = await rejection(async () => createSessionStore({ backend: memoryBackend(), keySecret: [secret(), weak] }));
    expect(listed.message).toContain("keySecret[1]");
    expect(listed.message).not.toContain(weak);
  });

  it("refuses allowUnencryptedReads without encryptionKeys and maxSessionsPerUser without a user index", async () => {
    expect((await rejection(async () => createSessionStore({ backend: memoryBackend(), allowUnencryptedReads: true }))).message).toContain("allowUnencryptedReads");
    expect((await rejection(async () => createSessionStore({ backend: memoryBackend(), maxSessionsPerUser: 0 }))).message).toContain("maxSessionsPerUser");
  });

  it("keeps secrets out of store.options", () => {
    const keySecret = secret();
    const store = createSessionStore({ backend: memoryBackend(), keySecret, encryptionKeys: [{ id: "a", key }] });
    const shown = JSON.stringify(store.options);
    expect(shown).not.toContain(keySecret);
    expect(shown).not.toContain(key);
    expect(store.options).toMatchObject({ hashedKeys: true, encrypted: true });
  });
});
