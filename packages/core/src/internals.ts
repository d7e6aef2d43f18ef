import type { Serializer } from "./codec.js";
import { SessionStoreError } from "./errors.js";
import type { KeyDeriver } from "./keys.js";
import type { BodyTransform, SessionRecord } from "./record.js";

/**
 * What the operator tools (tools.ts: export, import) need from a store beyond its public API: its key
 * derivation, codec and deadline. Kept off the SessionStore interface so the public API stays small;
 * the store registers them here when it is built.
 */
export interface StoreInternals {
  keys: KeyDeriver;
  serializer: Serializer;
  transform: BodyTransform | undefined;
  /** One backend command under the store's deadline, failures mapped to SessionStoreError. */
  run<R>(what: string, operation: () => Promise<R>): Promise<R>;
  /** Puts a record that is about to be written into its user's index (sets `indexedUntilMs`), as any write does. */
  index(key: string, record: SessionRecord): Promise<void>;
}

const registry = new WeakMap<object, StoreInternals>();

export function registerInternals(store: object, internals: StoreInternals): void {
  registry.set(store, internals);
}

export function internalsOf(store: object): StoreInternals {
  const internals = registry.get(store);
  if (internals === undefined) throw new SessionStoreError("CONFIG", "expected a store from createSessionStore(…)");
  return internals;
}
