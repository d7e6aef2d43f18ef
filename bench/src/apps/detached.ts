/**
 * What a zero-cost store keeps and hands back: a fresh plain copy of the session's own fields, as a
 * network store hands the framework freshly parsed data — never the framework's live Session object.
 * Keeping that object measured a floor that was no floor: express-session's and @fastify/session's
 * Session holds its request (so the store kept 500 requests, their responses and sockets alive into the
 * old generation, and every write made one of them garbage there), and @fastify/session reuses a stored
 * Session's signed id instead of signing it again, work every real store's read pays.
 */
export function detachedCopy(value: object): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  // for…in: own and inherited enumerable string keys; Session methods live on prototypes (not
  // enumerable), the request and the signed id behind non-enumerable or symbol keys.
  for (const key in value) {
    const field = (value as Record<string, unknown>)[key];
    if (typeof field === "function") continue;
    const toJSON = (field as { toJSON?: unknown } | null)?.toJSON;
    copy[key] = typeof toJSON === "function" ? toJSON.call(field) : field;
  }
  return copy;
}

/** A fresh top-level copy for each read: frameworks change what a store hands them (express-session replaces its cookie). */
export function freshCopy(stored: Record<string, unknown> | undefined): Record<string, unknown> | null {
  return stored === undefined ? null : { ...stored };
}
