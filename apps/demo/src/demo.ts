import { fork, type ChildProcess } from "node:child_process";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { memoryBackend, type SessionStore } from "@sessionbridge/core";
import { startBalancer, type Upstream } from "./balancer.js";
import { COOKIE_NAME, type CookieSettings } from "./cookie.js";
import type { Framework, InstanceInfo } from "./instance-info.js";
import { openCatalogue, prepareCatalogue } from "./catalogue/open.js";
import { openStore, startInstance } from "./instance.js";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "./launch/embedded-postgres.js";
import { redisServerInstalled, startPrivateRedis } from "./launch/redis-server.js";
import { stopChild } from "./launch/stop-child.js";
import { OperationsConsole } from "./operations/console.js";
import type { MetricsSource } from "./operations/fleet-metrics.js";
import { metricsOverIpc } from "./operations/ipc-metrics.js";
import { startProcessMetrics } from "./operations/process-metrics.js";
import type { DemoSettings } from "./settings.js";

export interface DemoOptions {
  /**
   * Run every instance in this process, each with its own store client (they still share nothing but
   * the backend). Default false: one child process per instance. Always true for the in-memory store.
   */
  inProcess?: boolean;
  log?: (line: string) => void;
  /**
   * Aborts the start (Ctrl-C while starting): what has started is stopped, child processes still
   * loading are terminated, and startDemo rejects.
   */
  signal?: AbortSignal;
  /** The operations page: its scrape interval and how long "Pause Redis" lasts (see operations/console.ts). */
  operations?: { intervalMs?: number; pauseMs?: number };
}

export interface RunningDemo {
  /** The balancer's URL: the one to open. */
  url: string;
  /** Where sessions live, in words (no credentials). */
  storeDescription: string;
  /** Where the catalogue's products live, in words (no credentials). */
  databaseDescription: string;
  instances: InstanceInfo[];
  /** The pid of the private redis-server the demo started, if it started one. */
  redisPid: number | undefined;
  /** Stops the balancer, every instance and the private redis-server, if any. */
  close(): Promise<void>;
}

/** Shows where a URL points without its credentials. */
export function describeUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//");
}

export async function startDemo(settings: DemoSettings, options: DemoOptions = {}): Promise<RunningDemo> {
  const log = options.log ?? (() => undefined);
  const signal = options.signal;
  const cleanups: Array<() => Promise<void>> = []; // run in reverse order
  const close = async () => {
    for (const cleanup of cleanups.reverse().splice(0)) await cleanup().catch(() => undefined);
  };
  try {
    // The embedded database starts while redis-server does: loading PGlite's WebAssembly takes a moment.
    const embedded = settings.databaseUrl === undefined ? startEmbeddedPostgres() : undefined;
    void embedded?.catch(() => undefined); // a failed start is reported where it is awaited, below
    cleanups.push(async () => (await embedded?.catch(() => undefined))?.stop());
    let url = settings.storeUrl;
    let storeDescription: string;
    let redisPid: number | undefined;
    if (url !== undefined) {
      storeDescription = `the session store at ${describeUrl(url)} (SESSION_STORE_URL)`;
    } else if (redisServerInstalled()) {
      const redis = await startPrivateRedis();
      cleanups.push(redis.stop);
      signal?.throwIfAborted();
      url = redis.url;
      redisPid = redis.pid;
      storeDescription = `a private redis-server on ${redis.url} (pid ${redis.pid}), stopped when the demo stops`;
    } else {
      url = "memory://";
      storeDescription = "an in-memory store shared by every instance in this one process (redis-server is not installed; set SESSION_STORE_URL to use a real server)";
    }
    log(`sessions: ${storeDescription}`);

    let databaseUrl = settings.databaseUrl;
    let databaseDescription: string;
    if (databaseUrl !== undefined) {
      databaseDescription = `the PostgreSQL at ${describeUrl(databaseUrl)} (DATABASE_URL), table sessionbridge_demo_products`;
    } else {
      databaseUrl = (await (embedded as Promise<EmbeddedPostgres>)).url;
      signal?.throwIfAborted();
      databaseDescription = `an embedded PGlite (PostgreSQL in WebAssembly) served to the instances on ${databaseUrl}, gone when the demo stops`;
    }
    await prepareCatalogue(databaseUrl, settings.timeoutMs);
    signal?.throwIfAborted();
    log(`products: ${databaseDescription}; cached in the session backend under demo:cache:`);

    const cookie: CookieSettings = { name: COOKIE_NAME, secret: settings.secret, ttlMs: settings.ttlMs };
    const names = instanceNames(settings.instances);
    const instances: InstanceInfo[] = [];
    const sources: MetricsSource[] = [];
    if (url.startsWith("memory:") || options.inProcess) {
      // The tracing channels are process-wide: one registration sees every instance of this process.
      const processMetrics = startProcessMetrics();
      cleanups.push(() => processMetrics.close());
      sources.push({ instance: "in-process", collect: () => processMetrics.collect() });
      // Memory: one store object, or the instances would not share sessions at all.
      const shared = url.startsWith("memory:") ? openStore(url, settings.ttlMs, settings.timeoutMs) : undefined;
      if (shared) cleanups.push(() => shared.close());
      // The same for the catalogue's cache: one memory backend behind every instance's caches.
      const cache = shared ? memoryBackend() : url;
      for (const [i, framework] of settings.instances.entries()) {
        let store: SessionStore;
        if (shared) store = shared;
        else {
          const own = openStore(url, settings.ttlMs, settings.timeoutMs);
          cleanups.push(() => own.close());
          store = own;
        }
        const name = names[i] as string;
        const running = await startInstance(name, framework, store, cookie, 0, openCatalogue(databaseUrl, cache, name, settings.timeoutMs));
        cleanups.push(running.close);
        instances.push(running.info);
        signal?.throwIfAborted();
      }
    } else {
      // Started together: each child spends most of its start-up loading modules.
      const started = await Promise.allSettled(settings.instances.map((framework, i) => forkInstance(names[i] as string, framework, settings, url, databaseUrl, signal)));
      for (const result of started) if (result.status === "fulfilled") cleanups.push(result.value.stop);
      signal?.throwIfAborted();
      for (const result of started) {
        if (result.status === "rejected") throw result.reason;
        instances.push(result.value.info);
        sources.push({ instance: result.value.info.name, framework: result.value.info.framework, collect: result.value.collectMetrics });
      }
    }
    for (const info of instances) log(`instance ${info.name} (${info.framework}) on 127.0.0.1:${info.port}, pid ${info.pid}`);

    const upstreams: Upstream[] = instances.map((info) => ({ name: info.name, port: info.port }));
    const operations = new OperationsConsole({ sources, system: systemOf(url), redisPid, ...options.operations });
    cleanups.push(() => operations.close());
    const balancer = await startBalancer(upstreams, settings.port, settings.host, operations.routes);
    cleanups.push(balancer.close);
    signal?.throwIfAborted();
    const shownHost = settings.host === "0.0.0.0" ? "127.0.0.1" : settings.host;
    const demoUrl = `http://${shownHost}:${balancer.port}/`;
    operations.visitorsTo(demoUrl);
    return { url: demoUrl, storeDescription, databaseDescription, instances, redisPid, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** `redis`, `memcached` or `memory`: what the operations page may say about the backend. */
function systemOf(url: string): string {
  const scheme = url.slice(0, url.indexOf(":")).toLowerCase();
  return scheme === "rediss" ? "redis" : scheme;
}

/** `express-1`, `fastify-1`, `koa-1`, `express-2`, … */
function instanceNames(frameworks: readonly Framework[]): string[] {
  const seen = new Map<Framework, number>();
  return frameworks.map((framework) => {
    const n = (seen.get(framework) ?? 0) + 1;
    seen.set(framework, n);
    return `${framework.toLowerCase()}-${n}`;
  });
}

interface ForkedInstance {
  info: InstanceInfo;
  /** Its metrics, asked over the IPC channel. */
  collectMetrics: ReturnType<typeof metricsOverIpc>;
  stop(): Promise<void>;
}

/** Starts one instance as a child process and waits until it reports who it is (port, pid, backend). */
async function forkInstance(name: string, framework: Framework, settings: DemoSettings, url: string, databaseUrl: string, signal: AbortSignal | undefined): Promise<ForkedInstance> {
  // Same file extension as this module: .js when built, .ts when run from source by a TS loader.
  const script = fileURLToPath(new URL(`./instance-process${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DEMO_INSTANCE_NAME: name,
    DEMO_FRAMEWORK: framework,
    SESSION_STORE_URL: url,
    DATABASE_URL: databaseUrl,
    SESSION_SECRET: settings.secret,
    SESSION_TTL_MS: String(settings.ttlMs),
    SESSION_TIMEOUT_MS: String(settings.timeoutMs),
  };
  const child: ChildProcess = fork(script, [], { env, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  // Aborted while the child loads: SIGTERM it (it stops quietly, or dies by the signal before it has
  // installed its handlers); its exit rejects the wait below.
  const abort = () => child.kill("SIGTERM");
  signal?.addEventListener("abort", abort, { once: true });
  void exited.then(() => signal?.removeEventListener("abort", abort));
  if (signal?.aborted) abort();
  const info = await new Promise<InstanceInfo>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`instance ${name} did not start within 30 s`)), 30_000);
    child.once("message", (message: { type?: string; info?: InstanceInfo }) => {
      clearTimeout(timer);
      if (message.type === "ready" && message.info !== undefined) resolve(message.info);
      else reject(new Error(`instance ${name} sent an unexpected message`));
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`instance ${name} exited with code ${code} before it was ready`));
    });
  }).catch(async (error: unknown) => {
    child.kill("SIGKILL");
    await exited;
    throw error;
  });
  return { info, collectMetrics: metricsOverIpc(child), stop: () => stopChild(child, exited) };
}
