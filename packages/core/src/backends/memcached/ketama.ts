import { createHash } from "node:crypto";

/**
 * A ketama continuum (the consistent hashing libketama introduced and most memcached clients offer):
 * every node owns 160 points on a 32-bit circle, a key belongs to the first point at or after its own
 * hash. Adding a fourth node to three moves about a quarter of the keys; memjs's `hash % n` moves
 * about three quarters. Points are MD5-derived, as in libketama, so the layout does not depend on the
 * order of the server list.
 */
export interface HashRing {
  /** Node indexes in the order a key should try them: its home node first, then the next distinct nodes round the circle. */
  candidates(key: string): readonly number[];
  /** The home node of a key. */
  home(key: string): number;
}

const HASHES_PER_NODE = 40; // four points per MD5 digest: 160 points per node
/** The candidates of every key when there is one node. */
const ONLY_NODE: readonly number[] = Object.freeze([0]);

export function createHashRing(nodeNames: readonly string[]): HashRing {
  const points: Array<{ point: number; node: number }> = [];
  nodeNames.forEach((name, node) => {
    for (let i = 0; i < HASHES_PER_NODE; i++) {
      const digest = createHash("md5").update(`${name}-${i}`).digest();
      for (let j = 0; j < 4; j++) points.push({ point: digest.readUInt32LE(j * 4), node });
    }
  });
  // Ties are broken by node index so every process builds the same circle.
  points.sort((a, b) => a.point - b.point || a.node - b.node);
  const positions = Uint32Array.from(points, (p) => p.point);
  const owners = Uint16Array.from(points, (p) => p.node);
  const nodeCount = nodeNames.length;

  const start = (key: string): number => {
    const hash = createHash("md5").update(key).digest().readUInt32LE(0);
    // First point >= hash (binary search); past the last point the circle wraps to the first.
    let lo = 0;
    let hi = positions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((positions[mid] as number) < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo === positions.length ? 0 : lo;
  };

  return {
    home: (key) => (nodeCount === 1 ? 0 : (owners[start(key)] as number)),
    candidates(key) {
      if (nodeCount === 1) return ONLY_NODE;
      const order: number[] = [];
      const seen = new Set<number>();
      for (let i = start(key), steps = 0; steps < owners.length && order.length < nodeCount; steps++, i = (i + 1) % owners.length) {
        const node = owners[i] as number;
        if (!seen.has(node)) {
          seen.add(node);
          order.push(node);
        }
      }
      return order;
    },
  };
}
