import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { launchOnFreePort, PortTakenError } from "../src/own-port.js";
import { freePort, startProcess, tempDir, type ManagedProcess } from "../src/process.js";
import { claimPort, PORT_CLAIMS_DIR } from "../src/port-claims.js";
import { startRedis } from "../src/redis.js";
import { parseInfo, startRedisNode } from "../src/redis-topologies.js";

// The harness must never hand a test a server it did not start. A port found free can be bound by
// another test file before our server binds it; ours then exits while the other answers on the port.
// A whole TLS contract block once failed that way (UNABLE_TO_VERIFY_LEAF_SIGNATURE from a concurrent
// file's memcached -Z). Here another process is made to hold the port on purpose.

const occupants: Server[] = [];
const started: ManagedProcess[] = [];
afterEach(async () => {
  await Promise.all(occupants.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  await Promise.all(started.splice(0).map((proc) => proc.stop("SIGKILL")));
});

/** Something else listening on 127.0.0.1:`port` (any port when 0), as a concurrent test's server would. */
async function occupy(port = 0): Promise<number> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  occupants.push(server);
  const address = server.address();
  return typeof address === "object" && address ? address.port : 0;
}

/** Whether the redis-server on `port` is the process `pid` (INFO server's process_id). */
async function servedBy(port: number): Promise<number> {
  const client = new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return Number(parseInfo(String(await client.info("server"))).get("process_id"));
  } finally {
    client.disconnect();
  }
}

describe("test servers on a port someone else holds", () => {
  it("rejects a redis node asked for a port another process listens on, naming the port, instead of handing out the other server", async () => {
    const port = await occupy();
    const attempt = startRedisNode({ port });
    await expect(attempt).rejects.toBeInstanceOf(PortTakenError);
    await expect(attempt).rejects.toThrow(`port ${port} is in use by another process`);
  });

  it("rejects a TLS redis-server on a taken port (its clients would meet a foreign certificate)", async () => {
    const port = await occupy();
    await expect(startRedis({ kind: "tls" }, { port })).rejects.toBeInstanceOf(PortTakenError);
  });

  it("rejects a cluster node whose bus port (port + 10000) another process holds", async () => {
    // A port whose bus port we can hold: port + 10000 may already be held by a concurrent test's server
    // (once EADDRINUSE here, in CI), so pick again then, a bounded number of times.
    let port = 0;
    for (let attempt = 1; port === 0; attempt++) {
      if (attempt > 50) throw new Error("found no free port whose bus port (port + 10000) was free too in 50 picks");
      const candidate = await freePort();
      if (candidate + 10000 > 65535) continue;
      try {
        await occupy(candidate + 10000);
        port = candidate;
      } catch (error) {
        if ((error as { code?: unknown }).code !== "EADDRINUSE") throw error;
      }
    }
    const dir = tempDir("bus");
    try {
      await expect(startRedisNode({ port, args: ["--cluster-enabled", "yes", "--cluster-config-file", `${dir.path}/nodes.conf`] })).rejects.toThrow(`port ${port + 10000} is in use by another process`);
    } finally {
      dir.remove();
    }
  });

  it("starts on another free port when the chosen one was taken before the server could bind it", async () => {
    const taken = await occupy();
    const picks = [taken];
    const dir = tempDir("pick");
    try {
      const { port, process: proc } = await launchOnFreePort(
        (on) => startProcess("redis-server", ["--port", String(on), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir.path]),
        { what: "redis-server", pickPort: async () => picks.shift() ?? freePort() },
      );
      started.push(proc);
      expect(port).not.toBe(taken);
      expect(await servedBy(port)).toBe(proc.pid);
    } finally {
      dir.remove();
    }
  });

  it("refuses to restart a stopped server on its port once another process has taken it", async () => {
    const server = await startRedis({ kind: "plain" });
    try {
      expect(await servedBy(server.port)).toBe(server.pid);
      await server.stop();
      await occupy(server.port);
      await expect(server.restart()).rejects.toBeInstanceOf(PortTakenError);
    } finally {
      await server.dispose();
    }
  });
});

describe("ports handed out to test servers", () => {
  // A stopped server keeps its port for its restart and its clients keep dialling it: the port must not
  // go to another test file's server meanwhile (a command-count test once counted another file's
  // commands on its server that way).
  it("hands a port to one process only, and to it once", async () => {
    const port = await freePort();
    expect(claimPort(port)).toBe(false); // this process has it already
    const other = startProcess("sleep", ["60"]);
    try {
      const next = await freePort();
      // Another live process's claim, as a concurrent test file leaves it.
      writeFileSync(join(PORT_CLAIMS_DIR, `${next + 1}.${other.pid}`), "");
      expect(claimPort(next + 1)).toBe(false);
    } finally {
      await other.stop("SIGKILL");
    }
  });

  it("takes over the claim of a process that has exited", async () => {
    const other = startProcess("sleep", ["60"]);
    const port = (await freePort()) + 1;
    writeFileSync(join(PORT_CLAIMS_DIR, `${port}.${other.pid}`), "");
    expect(claimPort(port)).toBe(false);
    await other.stop("SIGKILL");
    expect(claimPort(port)).toBe(true);
  });
});

