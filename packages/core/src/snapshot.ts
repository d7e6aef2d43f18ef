import { HiddenSlot } from "./hidden-slot.js";

/**
 * The plaintext body each LoadedSession was read from or written as: its pristine state, whatever the
 * request has done to the data objects since. Because of it, adapters hand the framework the decoded
 * objects without a deep copy (`detachData`), and a save tells "unchanged" by one JSON.stringify
 * compared with the body, or diffs a changed session against a fresh parse of it — never against
 * objects the request may have mutated in place. Kept on the object itself, not copied by a spread: a
 * copy is a session the store has no body for.
 *
 * Every LoadedSession the store makes is a {@link StoredSession}, which holds its body in a private
 * field: invisible to keys, spreads, JSON, `structuredClone` and `util.inspect`, and free to set when
 * the object is made (a non-enumerable property defined on a plain object cost ~240 ns, twice per write
 * and once per read, issue 12). Any other object (none the store makes) falls back to a hidden slot.
 */
export class StoredSession {
  #body: string | undefined;

  static bodyOf(session: object): string | undefined {
    return #body in session ? session.#body : fallback.get(session);
  }

  static remember(session: object, body: string): void {
    if (#body in session) session.#body = body;
    else fallback.set(session, body);
  }
}

const fallback = new HiddenSlot<string>("sessionbridge.body");

export function rememberBody(session: object, body: string): void {
  StoredSession.remember(session, body);
}

export function bodyOf(session: object): string | undefined {
  return StoredSession.bodyOf(session);
}
