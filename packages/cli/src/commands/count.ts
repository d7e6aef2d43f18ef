import type { SessionStore } from "@sessionbridge/core";
import { storedKeys } from "@sessionbridge/core/tools";
import { note, print } from "../output.js";

/**
 * `sessionbridge count`: sessions under the prefix (SCAN on Redis; Memcached's `lru_crawler metadump`
 * where the server allows it), without reading any of them. The per-user index is not counted.
 */
export async function count(store: SessionStore): Promise<void> {
  const unlisted = { count: 0 };
  let total = 0;
  for await (const batch of storedKeys(store, unlisted)) total += batch.length;
  print(String(total));
  if (unlisted.count > 0) note(`${unlisted.count} more key(s) under the prefix are stored hashed by memcached's 250-byte key limit and cannot be listed`);
}
