/**
 * How deep session data may nest: objects and arrays, the data object itself counting as level 1.
 * Checked the same way on write (refused, saying so) and on read (deeper stored data is corrupt, "no
 * session"), so a store never reads back what it would not write. Far deeper than any session needs,
 * far shallower than the call stack JSON.stringify and JSON.parse overflow at (a few thousand levels).
 */
export const MAX_DEPTH = 100;

/** True when `value` nests objects/arrays more than `limit` levels deep. Iterative: any depth is safe. */
export function tooDeep(value: unknown, limit = MAX_DEPTH): boolean {
  if (value === null || typeof value !== "object") return false;
  const pending: object[] = [value];
  const depths: number[] = [1];
  while (pending.length > 0) {
    const node = pending.pop() as Record<string, unknown>;
    const depth = depths.pop() as number;
    if (depth > limit) return true;
    for (const key in node) {
      const child = node[key];
      if (child !== null && typeof child === "object") {
        pending.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}
