import { HiddenSlot } from "./hidden-slot.js";

/**
 * The plaintext body each LoadedSession was read from or written as: its pristine state, whatever the
 * request has done to the data objects since. Because of it, adapters hand the framework the decoded
 * objects without a deep copy (`detachData`), and a save tells "unchanged" by one JSON.stringify
 * compared with the body, or diffs a changed session against a fresh parse of it — never against
 * objects the request may have mutated in place. Kept on the object itself (hidden-slot.ts), not
 * copied by a spread: a copy is a session the store has no body for.
 */
const bodies = new HiddenSlot<string>("sessionbridge.body");

export function rememberBody(session: object, body: string): void {
  bodies.set(session, body);
}

export function bodyOf(session: object): string | undefined {
  return bodies.get(session);
}
