import { createSessionStore, type SessionStore } from "@sessionbridge/core";
import type { DemoApp, DemoSessionData } from "./app.js";
import type { Catalogue } from "./catalogue/catalogue.js";
import type { CookieSettings } from "./cookie.js";
import type { Framework, InstanceInfo } from "./instance-info.js";
import { createSessionDirectory } from "./session-directory.js";
import { UserRepository } from "./users.js";

/** A framework file's one export: serve the demo app on a port with that framework. */
export type StartFramework = (app: DemoApp, store: SessionStore, cookie: CookieSettings, port: number) => Promise<Listening>;

export interface Listening {
  port: number;
  close(): Promise<void>;
}

export interface RunningInstance extends Listening {
  info: InstanceInfo;
}

// Loaded on demand, so a process that runs only Koa never loads Express or Fastify.
const FRAMEWORKS: Record<Framework, () => Promise<StartFramework>> = {
  Express: async () => (await import("./frameworks/express.js")).startExpress,
  Fastify: async () => (await import("./frameworks/fastify.js")).startFastify,
  Koa: async () => (await import("./frameworks/koa.js")).startKoa,
};

/** Sessions live under their own prefix, so the demo can share a Redis with other data. */
export const SESSION_PREFIX = "demo:sess:";

export function openStore(url: string, ttlMs: number, timeoutMs: number): SessionStore {
  return createSessionStore({
    url,
    prefix: SESSION_PREFIX,
    ttlMs,
    timeoutMs,
    // The store tags every session with its user on write, whichever framework wrote it: that feeds
    // the per-user index behind "active sessions" and "log out everywhere".
    userIdFrom: (data) => (data as DemoSessionData).user?.id,
  });
}

/**
 * Starts one stateless instance: everything it knows about users and sessions comes from `store`, its
 * products from the shared database through `catalogue` (closed with the instance).
 */
export async function startInstance(name: string, framework: Framework, store: SessionStore, cookie: CookieSettings, port: number, catalogue: Catalogue): Promise<RunningInstance> {
  const info: InstanceInfo = { name, framework, port, pid: process.pid, backendKind: backendKind(store.backend.label), listsUserSessions: store.backend.capabilities.userIndex };
  const app: DemoApp = { instance: info, users: new UserRepository(store.backend, store.options.timeoutMs), sessions: createSessionDirectory(store), catalogue };
  const start = await FRAMEWORKS[framework]();
  const listening = await start(app, store, cookie, port).catch(async (error: unknown) => {
    await catalogue.close();
    throw error;
  });
  info.port = listening.port;
  const close = async () => {
    await listening.close();
    await catalogue.close();
  };
  return { port: listening.port, close, info };
}

/** `redis 127.0.0.1:6379` → `redis`; `redis sentinel "mymaster"` → `redis`; `memory` → `memory`. */
function backendKind(label: string): string {
  return label.split(" ", 1)[0] ?? "store";
}
