import { afterAll, beforeAll } from "vitest";
import { memcachedBackend } from "@sessionbridge/core";
import { backendContract } from "../src/contract.js";
import { limitsContract } from "../src/contract-limits.js";
import { startMemcached, startMemcachedNodes, type MemcachedServer } from "../src/memcached.js";

// Nodes for the whole file; the suite gives every test its own prefix.
let single: MemcachedServer;
let trio: MemcachedServer[] = [];
let secured: MemcachedServer;
const sasl = { username: "app", password: "memcached-s3cret" };

beforeAll(async () => {
  [single, trio, secured] = await Promise.all([
    startMemcached(),
    startMemcachedNodes(3, { sasl }),
    startMemcached({ tls: true }),
  ]);
});

afterAll(async () => {
  await Promise.all([single, ...trio, secured].map((node) => node?.dispose()));
});

const cannot = {
  scan: "memcached cannot list keys, and flushing would wipe the whole server",
  userIndex: "memcached has no sets or sorted sets to keep a per-user index consistently",
  pubsub: "memcached has no pub/sub (the cache's first tier uses a short TTL there instead)",
};
const ttlResolutionMs = 1000; // memcached counts expirations in whole seconds

backendContract({ name: "memcached, one node", backend: () => memcachedBackend({ servers: [single.address] }), cannot, ttlResolutionMs });
backendContract({
  name: "memcached, three nodes with SASL",
  backend: () => memcachedBackend({ servers: trio.map((node) => node.address), ...sasl }),
  cannot,
  ttlResolutionMs,
});
backendContract({ name: "memcached over TLS", backend: () => memcachedBackend({ servers: [secured.address], tls: { ca: secured.tls!.caPem } }), cannot, ttlResolutionMs });
limitsContract({ name: "memcached, one node", backend: () => memcachedBackend({ servers: [single.address] }), shared: true });
