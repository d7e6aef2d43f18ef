import { execFileSync } from "node:child_process";
import memjs from "memjs";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { launchOnFreePort, launchOnPort } from "./own-port.js";
import { startProcess, stopProcess, tempDir, type ManagedProcess } from "./process.js";
import { makeTlsFiles, type RedisServer, type TlsFiles } from "./redis.js";

/**
 * Real memcached processes on free loopback ports for tests: plain, with SASL (a sasldb made here),
 * with TLS (certificates made here with openssl), and several nodes at once. `stop()` / `kill()` end
 * exactly the PID this harness started; `restart()` brings a node back on the same port.
 */

export interface MemcachedHarnessOptions {
  /** Run with `-S` and a sasldb holding this one user. */
  sasl?: { username: string; password: string };
  /** Run with `-Z` and a certificate for 127.0.0.1 / localhost signed by a fresh test CA. */
  tls?: boolean;
  /** Largest item, memcached's `-I` (e.g. "1m", "2m"). Default "1m" (memcached's own default). */
  maxItemSize?: string;
}

/** The same process controls as the Redis harness: stop / kill / pause / resume / restart on the same port / dispose. */
export interface MemcachedServer extends Pick<RedisServer, "pid" | "output" | "stop" | "kill" | "pause" | "resume" | "restart" | "dispose"> {
  readonly host: "127.0.0.1";
  readonly port: number;
  /** `127.0.0.1:<port>`, as a `servers` entry. */
  readonly address: string;
  /** `memcached://[user:pass@]127.0.0.1:<port>[?tls=true]` with the server's credentials. */
  readonly url: string;
  /** Present when started with `tls`. */
  readonly tls: TlsFiles | undefined;
  /** The server's `stats` counters (cmd_get, cmd_set, cmd_touch, cas_hits, …), to count commands exactly. Plain nodes only. */
  stats(): Promise<Record<string, number>>;
}

const HOST = "127.0.0.1" as const;

/** Writes a sasldb with one user and the SASL config memcached reads from $SASL_CONF_PATH. */
function makeSaslFiles(dir: string, username: string, password: string): NodeJS.ProcessEnv {
  const db = join(dir, "memcached.sasldb");
  // -p reads the password from stdin, so it never shows up in a process listing.
  execFileSync("saslpasswd2", ["-a", "memcached", "-c", "-p", "-f", db, username], { input: password, stdio: ["pipe", "pipe", "pipe"] });
  writeFileSync(join(dir, "memcached.conf"), `mech_list: plain\nsasldb_path: ${db}\n`);
  return { ...process.env, SASL_CONF_PATH: dir };
}

export async function startMemcached(options: MemcachedHarnessOptions = {}): Promise<MemcachedServer> {
  const dir = tempDir("memcached");
  const tls = options.tls ? makeTlsFiles(dir.path) : undefined;
  const env = options.sasl ? makeSaslFiles(dir.path, options.sasl.username, options.sasl.password) : process.env;
  const argsFor = (port: number): string[] => {
    const args = ["-l", HOST, "-p", String(port), "-U", "0", "-m", "64", "-t", "2", "-I", options.maxItemSize ?? "1m"];
    // memcached refuses to run as root without -u; root can read the sasldb and certificates we wrote.
    if (process.getuid?.() === 0) args.push("-u", "root");
    if (options.sasl) args.push("-S");
    if (tls) args.push("-Z", "-o", `ssl_chain_cert=${tls.cert},ssl_key=${tls.key}`);
    return args;
  };

  const start = (port: number) => startProcess("memcached", argsFor(port), { env });
  let port: number;
  let proc: ManagedProcess;
  try {
    ({ port, process: proc } = await launchOnFreePort(start, { what: "memcached" }));
  } catch (error) {
    dir.remove();
    throw error;
  }
  const launch = async (): Promise<void> => {
    proc = await launchOnPort(start, port, { what: "memcached" });
  };
  const running = (): ManagedProcess => proc;

  const credentials = options.sasl ? `${encodeURIComponent(options.sasl.username)}:${encodeURIComponent(options.sasl.password)}@` : "";
  return {
    host: HOST,
    port,
    address: `${HOST}:${port}`,
    url: `memcached://${credentials}${HOST}:${port}${tls ? "?tls=true" : ""}`,
    tls,
    get pid() {
      return running().pid;
    },
    output: () => running().output(),
    stop: () => running().stop("SIGTERM"),
    kill: () => running().stop("SIGKILL"),
    pause: () => stopProcess(running().child.pid),
    resume: () => void running().child.kill("SIGCONT"),
    restart: launch,
    stats: () =>
      new Promise((resolve, reject) => {
        const client = memjs.Client.create(`${HOST}:${port}`, { logger: { log: () => undefined } });
        client.stats((error, _server, stats) => {
          client.close();
          if (error || !stats) reject(error ?? new Error("no stats"));
          else resolve(Object.fromEntries(Object.entries(stats).map(([name, value]) => [name, Number(value)])));
        });
      }),
    async dispose() {
      running().child.kill("SIGCONT"); // a paused process cannot act on SIGTERM
      await running().stop("SIGTERM");
      dir.remove();
    },
  };
}

/** Several plain (or SASL / TLS) nodes at once, for hashing and failover tests. */
export async function startMemcachedNodes(count: number, options: MemcachedHarnessOptions = {}): Promise<MemcachedServer[]> {
  const nodes: MemcachedServer[] = [];
  try {
    for (let i = 0; i < count; i++) nodes.push(await startMemcached(options));
  } catch (error) {
    await Promise.all(nodes.map((node) => node.dispose()));
    throw error;
  }
  return nodes;
}
