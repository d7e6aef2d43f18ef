import { createHash, randomBytes } from "node:crypto";
import { Cluster } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createSessionStore, redisBackend, type SessionStore } from "@sessionbridge/core";
import { startCluster, type ClusterTopology } from "../src/redis-topologies.js";

/**
 * The per-user index and key rotation on a real Redis Cluster (3 masters): a user's sessions and index
 * land on different slots, so every command must touch one key (no CROSSSLOT).
 */

let cluster: ClusterTopology;
const stores: SessionStore[] = [];
const clients: Cluster[] = [];

beforeAll(async () => {
  cluster = await startCluster({ masters: 3, replicasPerMaster: 0 });
  await cluster.waitUntilHealthy();
});
afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
  for (const client of clients) client.disconnect();
  await cluster?.stop();
});

async function open(options: Omit<Parameters<typeof createSessionStore>[0], "backend" | "url"> = {}): Promise<SessionStore> {
  const client = new Cluster(cluster.seeds(), { enableOfflineQueue: false });
  client.on("error", () => undefined);
  clients.push(client);
  await new Promise((resolve) => client.once("ready", resolve));
  const store = createSessionStore({ timeoutMs: 3000, userIdFrom: (data) => data.userId, ...options, backend: redisBackend({ client }) });
  stores.push(store);
  return store;
}

const newId = () => randomBytes(18).toString("base64url");

it("lists, limits and revokes a user's sessions spread over the cluster's slots", async () => {
  const keySecret = [randomBytes(32), randomBytes(32)];
  const before = await open({ keySecret: keySecret[1]!, prefix: "sess:cl:" });
  const store = await open({ keySecret, prefix: "sess:cl:", maxSessionsPerUser: 5 });
  const oldSecretSession = newId();
  await before.save(oldSecretSession, { userId: "ada" }, { previous: null });
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) {
    const id = newId();
    await store.save(id, { userId: "ada", i }, { previous: null });
    ids.push(id);
  }
  // The limit evicted the oldest; the rest are listed whatever slot they hash to.
  const sessions = await store.sessionsOf("ada");
  expect(sessions).toHaveLength(5);
  expect(await store.get(oldSecretSession)).toBeNull();
  expect(await store.destroySessionsOf("ada", { except: ids[5]! })).toBe(4);
  expect((await store.sessionsOf("ada")).map((s) => s.handle)).toEqual([store.handleOf(ids[5]!)]);
  // destroy() deletes under both secrets' keys (two slots): one command per key.
  await store.destroy(ids[5]!);
  expect(await store.get(ids[5]!)).toBeNull();
});

it("treats a foreign value at a user's index key as corrupt (WRONGTYPE through the cluster): login and log out everywhere still work", async () => {
  const prefix = `sess:wt-${randomBytes(4).toString("hex")}:`;
  const store = await open({ prefix });
  const corrupt: Error[] = [];
  store.on("corrupt", (error) => corrupt.push(error));
  const index = `${prefix}~u.${createHash("sha256").update("user\u0000ada", "utf8").digest("base64url")}`;
  await clients[0]!.set(index, "not an index");
  const id = newId();
  expect((await store.save(id, { userId: "ada" }, { previous: null })).status).toBe("written");
  expect(await clients[0]!.type(index)).toBe("zset");
  await store.save(newId(), { userId: "ada" }, { previous: null });
  await clients[0]!.set(index, "not an index");
  expect(await store.destroySessionsOf("ada")).toBe(0);
  expect(corrupt).toHaveLength(2);
  expect(await store.get(id)).not.toBeNull(); // lost by the broken index: it ends by its TTL
});
