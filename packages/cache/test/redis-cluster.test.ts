import { afterAll, beforeAll } from "vitest";
import { redisBackend } from "@sessionbridge/core";
import { startCluster, type ClusterTopology } from "@sessionbridge/testing";
import { cacheSuite } from "./suite.js";

// Entries, tag generations and load locks hash to different slots: the cache needs no multi-key command.
let cluster: ClusterTopology;
beforeAll(async () => {
  cluster = await startCluster({ masters: 3, replicasPerMaster: 0 });
});
afterAll(async () => {
  await cluster?.stop();
});

cacheSuite({ name: "redis cluster (3 masters)", backend: () => redisBackend({ cluster: cluster.seeds() }) });
