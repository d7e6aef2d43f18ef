import { expressSession } from "./connect-redis.js";

/**
 * connect-memjs: the express-session value as JSON under `prefix + id` on Memcached (memjs, binary
 * protocol), default prefix "" (the bare session id), item TTL from the cookie's maxAge (else a day).
 */
export const connectMemjs = { name: "connect-memjs", defaultPrefix: "", toSession: expressSession } as const;
