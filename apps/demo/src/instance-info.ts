export type Framework = "Express" | "Fastify" | "Koa";

/** Who served a page: shown on every page so a visitor can watch the login follow them. */
export interface InstanceInfo {
  /** e.g. `koa-1`. */
  name: string;
  framework: Framework;
  port: number;
  pid: number;
  /** The session backend's label (e.g. `redis 127.0.0.1:6379`); never contains credentials. */
  backendLabel: string;
  /** The backend keeps a per-user index (Redis, memory; not Memcached): the active-sessions page works. */
  listsUserSessions: boolean;
}
