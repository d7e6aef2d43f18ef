import { randomBytes } from "node:crypto";

/**
 * Tag invalidation by generation counters. Each tag has a key holding its current generation (a random
 * token); an entry records the generation of each of its tags when it was written, and is valid only
 * while every one of them is still current. `invalidateTag` writes a new generation: one backend write
 * however many entries carry the tag, and nothing is scanned. A tag key that is gone (evicted, expired)
 * invalidates its entries too: the safe direction.
 */

/** What follows the prefix in a tag key; `~` never starts a key the application names (see keys). */
export const TAG_MARK = "~t.";

/** Tag keys outlive any entry: 30 days, the longest relative TTL Memcached accepts. */
export const TAG_TTL_MS = 30 * 24 * 3600 * 1000;

export function newGeneration(): string {
  return randomBytes(9).toString("base64url");
}

/** True when every tag the entry was written with still has the generation it recorded. */
export function tagsCurrent(recorded: Record<string, string> | undefined, current: ReadonlyMap<string, string | null>): boolean {
  if (recorded === undefined) return true;
  for (const tag in recorded) if (current.get(tag) !== recorded[tag]) return false;
  return true;
}

/** The tags an entry recorded that are not in `known` (their generations still have to be read). */
export function unknownTags(recorded: Record<string, string> | undefined, known: ReadonlyMap<string, string | null>): string[] {
  if (recorded === undefined) return [];
  const missing: string[] = [];
  for (const tag in recorded) if (!known.has(tag)) missing.push(tag);
  return missing;
}
