import { expressSession } from "./connect-redis.js";

/**
 * connect-memcached: the express-session value under `prefix + id` on Memcached (the `memcached`
 * package stores the object as JSON), default prefix "", item TTL from its `ttl` option or the cookie's
 * maxAge. Its `secret` option (kruptein encryption) is not read: give a `serializer` whose `parse`
 * decrypts.
 */
export const connectMemcached = { name: "connect-memcached", defaultPrefix: "", toSession: expressSession } as const;
