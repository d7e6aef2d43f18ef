/**
 * How deep session data may nest: objects and arrays, the data object itself counting as level 1.
 * Checked the same way on write (refused, saying so) and on read (deeper stored data is corrupt, "no
 * session"), so a store never reads back what it would not write. Far deeper than any session needs,
 * far shallower than the call stack JSON.stringify and JSON.parse overflow at (a few thousand levels).
 */
export const MAX_DEPTH = 100;

/**
 * True when `value` nests objects/arrays more than `limit` levels deep (a cycle nests without end).
 * Recursive, but never more than `limit + 1` frames: it stops at the first level past the limit, so any
 * depth of input is safe. It allocates nothing, unlike a loop with explicit stacks (which cost ~1 KB of
 * garbage per checked session: it runs on every read and every write, issue 12).
 */
export function tooDeep(value: unknown, limit = MAX_DEPTH): boolean {
  return value !== null && typeof value === "object" && deeperThan(value as Record<string, unknown>, limit);
}

/** True when `node` (an object or array at the level where `left` levels remain, itself included) nests too deep. */
function deeperThan(node: Record<string, unknown>, left: number): boolean {
  if (left <= 0) return true;
  if (Array.isArray(node)) {
    // By index, as JSON sees an array: `for…in` over an array makes a string per index (~4× slower).
    for (let i = 0; i < node.length; i++) {
      const child: unknown = node[i];
      if (child !== null && typeof child === "object" && deeperThan(child as Record<string, unknown>, left - 1)) return true;
    }
    return false;
  }
  for (const key in node) {
    const child = node[key];
    if (child !== null && typeof child === "object" && deeperThan(child as Record<string, unknown>, left - 1)) return true;
  }
  return false;
}
