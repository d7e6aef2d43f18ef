/**
 * A value kept on an object under a symbol of its own, as a non-enumerable property: invisible to
 * `Object.keys`, `for…in`, spreads, JSON and `util.inspect`, and gone with the object. It replaces the
 * WeakMaps the per-request path used to link objects (a loaded session to its stored body, a framework
 * session to its load, a request to its budget): in V8 each WeakMap entry for a new key costs an identity
 * hash and an ephemeron-table slot that garbage collection must revisit, ~4 µs of CPU per written session
 * over the five links a request makes (bench `core-cost --redis`, write: 31 → 27 µs; docs/benchmarks.md).
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
