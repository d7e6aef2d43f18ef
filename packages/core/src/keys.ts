import { createHmac } from "node:crypto";

/**
 * Derives the backend key of a session id. Plain mode: `prefix + id`. Hashed mode (a `keySecret` is
 * set): `prefix + base64url(HMAC-SHA256(keySecret, id))`, so a dump of the cache yields no usable ids.
 */
export interface KeyDeriver {
  readonly prefix: string;
  readonly hashed: boolean;
  key(id: string): string;
  /** The id part of a key found by scanning (the HMAC itself in hashed mode). */
  idOf(key: string): string;
}

export function createKeyDeriver(prefix: string, keySecret?: string | Buffer): KeyDeriver {
  if (keySecret === undefined) {
    return { prefix, hashed: false, key: (id) => prefix + id, idOf: (key) => key.slice(prefix.length) };
  }
  return {
    prefix,
    hashed: true,
    key: (id) => prefix + createHmac("sha256", keySecret).update(id, "utf8").digest("base64url"),
    idOf: (key) => key.slice(prefix.length),
  };
}
