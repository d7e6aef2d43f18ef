import { afterAll, beforeAll } from "vitest";
import { memcachedBackend } from "@sessionbridge/core";
import { startMemcachedNodes, type MemcachedServer } from "@sessionbridge/testing";
import { cacheSuite } from "./suite.js";

let nodes: MemcachedServer[] = [];
beforeAll(async () => {
  nodes = await startMemcachedNodes(2);
});
afterAll(async () => {
  await Promise.all(nodes.map((node) => node.dispose()));
});

cacheSuite({ name: "memcached, two nodes", backend: () => memcachedBackend({ servers: nodes.map((node) => node.address) }) });
