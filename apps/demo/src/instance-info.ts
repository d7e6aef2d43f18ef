export type Framework = "Express" | "Fastify" | "Koa";

/** Who served a page: shown on every page so a visitor can watch the login follow them. */
export interface InstanceInfo {
  /** e.g. `koa-1`. */
  name: string;
  framework: Framework;
  port: number;
  pid: number;
  /**
   * What kind of store holds the sessions (`redis`, `memcached`, `memory`), for the page's footer. Never the
   * backend's label: that names hosts and ports, which an HTTP response must not carry.
   */
  backendKind: string;
  /** The backend keeps a per-user index (Redis, memory; not Memcached): the active-sessions page works. */
  listsUserSessions: boolean;
}
