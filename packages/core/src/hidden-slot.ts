/**
 * A value kept on an object under a symbol of its own, as a non-enumerable property: invisible to
 * `Object.keys`, `for…in`, spreads, JSON and `util.inspect`, and gone with the object. It replaces the
 * WeakMaps the per-request path used to link small objects (a loaded session to its stored body, a
 * framework session to its load): in V8 each WeakMap entry for a new key costs an identity hash and an
 * ephemeron-table slot that garbage collection must revisit (bench `core-cost --redis`, node-redis: a
 * rolling read 21 → 12 µs of CPU, a write 31 → 27 µs; docs/benchmarks.md). Not for large objects with
 * many properties, such as Express's request: defining a property there cost more than a WeakMap entry.
 *
 * An object that cannot take a property (frozen, sealed, `preventExtensions`) is held in a WeakMap
 * instead, so the slot works on any object. The property is the same on every object of a kind, so their
 * hidden classes stay shared.
 */
export class HiddenSlot<V> {
  private readonly key: symbol;
  private fallback: WeakMap<object, V> | undefined;

  constructor(description: string) {
    this.key = Symbol(description);
  }

  get(holder: object): V | undefined {
    const value = (holder as Record<symbol, V | undefined>)[this.key];
    return value !== undefined || this.fallback === undefined ? value : this.fallback.get(holder);
  }

  set(holder: object, value: V): void {
    if (Object.hasOwn(holder, this.key)) {
      (holder as Record<symbol, V>)[this.key] = value; // a plain store: defining costs ~8× more
    } else if (Object.isExtensible(holder)) {
      Object.defineProperty(holder, this.key, { value, writable: true, configurable: true, enumerable: false });
    } else {
      (this.fallback ??= new WeakMap()).set(holder, value);
    }
  }

  /** Forgets `holder`'s value (the property stays, undefined: deleting it would slow the object down). */
  clear(holder: object): void {
    if (Object.hasOwn(holder, this.key)) (holder as Record<symbol, V | undefined>)[this.key] = undefined;
    this.fallback?.delete(holder);
  }
}
