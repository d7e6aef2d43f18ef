import sjson from "secure-json-parse";

/**
 * Turns the session record into text and back. The default is JSON, parsed with secure-json-parse so
 * `__proto__` and `constructor.prototype` keys in stored data are dropped instead of polluting objects.
 *
 * Dates: JSON has no date type, so a Date is stored as its ISO-8601 string (Date#toJSON) and comes back
 * as that string. Convert it with `new Date(value)` where you need a Date. This is what every JSON
 * session store does; a reviver that turns date-looking strings into Dates would also change strings
 * the application meant to keep as strings.
 */
export interface Serializer {
  stringify(value: unknown): string;
  parse(text: string): unknown;
}

export const jsonSerializer: Serializer = {
  stringify: (value) => JSON.stringify(value),
  parse: (text) => (mayPollute(text) ? sjson.parse(text, undefined, { protoAction: "remove", constructorAction: "remove" }) : JSON.parse(text)),
};

/**
 * False when `text` cannot hold a `__proto__` or `constructor` key, so plain `JSON.parse` is as safe as
 * secure-json-parse (whose two regular expressions over every stored session cost more than the parse).
 * A key can only be spelled differently with a `\u` escape, and a byte order mark is stripped by
 * secure-json-parse only: any of these goes the secure way.
 */
function mayPollute(text: string): boolean {
  return text.includes("__proto__") || text.includes("constructor") || text.includes("\\u") || text.charCodeAt(0) === 0xfeff;
}

/** True for a plain JSON object (not an array, not null, not a class instance other than Object). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
