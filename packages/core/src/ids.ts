import { SessionStoreError } from "./errors.js";

export const MAX_ID_LENGTH = 256;

// C0 controls, DEL and C1 controls. Anything else printable (including non-ASCII) is allowed.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Rejects an id before anything reaches the backend. The message never echoes the id: it is a credential. */
export function assertValidId(id: unknown): asserts id is string {
  if (typeof id !== "string") {
    throw new SessionStoreError("INVALID_ID", `session id must be a string, got ${id === null ? "null" : typeof id}`);
  }
  if (id.length === 0) throw new SessionStoreError("INVALID_ID", "session id must not be empty");
  if (id.length > MAX_ID_LENGTH) {
    throw new SessionStoreError("INVALID_ID", `session id must be at most ${MAX_ID_LENGTH} characters, got ${id.length}`);
  }
  if (CONTROL.test(id)) throw new SessionStoreError("INVALID_ID", "session id must not contain control characters");
}
