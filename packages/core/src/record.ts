import { randomBytes } from "node:crypto";
import type { Serializer } from "./codec.js";
import { isPlainObject } from "./codec.js";
import { tooDeep } from "./depth.js";
import { storedTtlMs } from "./ttl.js";

/**
 * The canonical session record: the one shape every adapter reads and writes, so a session written
 * through Express is read by Fastify and Koa. Adapters rebuild their framework's shape from it.
 */
export interface SessionRecord<T extends object = Record<string, unknown>> {
  /** The application's session data: a plain JSON object. */
  data: T;
  /** When the session was created (epoch ms). Never changes; `maxLifetimeMs` counts from it. */
  createdAtMs: number;
  /** When the session expires if nobody touches it (epoch ms). */
  expiresAtMs: number;
  /** The idle timeout this session was written with (ms): what a refresh resets the TTL to. */
  ttlMs: number;
  /** The user the session belongs to, for the per-user index. */
  userId?: string;
  /** Optional facts for "active sessions" pages (user agent, IP, …); small strings only. */
  meta?: Record<string, string>;
  /**
   * Until when (epoch ms) the per-user index lists this session at least. Kept ahead of `expiresAtMs`
   * so "log out everywhere" never misses a live session (see users.ts).
   */
  indexedUntilMs?: number;
  /**
   * True when the framework's cookie for this session has no expiry (it ends with the browser session):
   * adapters then rebuild such a cookie instead of one that expires with the TTL. The TTL on the server
   * is the session's `ttlMs` either way.
   */
  browserSession?: true;
  /** Opaque token that changes on every write; used for compare-and-set. */
  version: string;
}

/**
 * Stored form: `sb1:<version>:<body>`. The version sits in clear text at the front so a backend can
 * compare-and-set on the prefix without decoding (or decrypting) the body.
 */
const MAGIC = "sb1:";
const VERSION_LENGTH = 12;

const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/** Versions one prefix can number: 64⁴, four base64url characters. */
const VERSIONS_PER_PREFIX = 64 ** 4;
let versionBase = "";
let versionCount = VERSIONS_PER_PREFIX;

/**
 * A new version: 12 base64url characters, a random prefix of 48 bits drawn once per process (and again
 * after every 16.7 million versions) followed by a counter. Compare-and-set needs a version that no other
 * write of the same session carries — uniqueness, not secrecy (the version never authorizes anything) —
 * so one `randomBytes` per 16.7 million writes replaces one per write (25–35 µs each, issue 12).
 */
export function newVersion(): string {
  if (versionCount === VERSIONS_PER_PREFIX) {
    versionBase = randomBytes(6).toString("base64url");
    versionCount = 0;
  }
  const n = versionCount++;
  return versionBase + BASE64URL.charAt(n >>> 18) + BASE64URL.charAt((n >>> 12) & 63) + BASE64URL.charAt((n >>> 6) & 63) + BASE64URL.charAt(n & 63);
}

export function versionPrefix(version: string): string {
  return `${MAGIC}${version}:`;
}

/** Turns a record body into the text that is sealed (optionally encrypted) and stored. */
export interface BodyTransform {
  seal(body: string, key: string): string;
  /** Returns null when the body cannot be opened (tampered, unknown key). */
  open(sealed: string, key: string): string | null;
  /** True when the body opens but should be sealed again (an older key, or not sealed at all). */
  stale?(sealed: string): boolean;
}

/** The body part of a stored envelope (what the transform sealed). */
export function sealedBody(text: string): string {
  return text.slice(MAGIC.length + VERSION_LENGTH + 1);
}

interface WireBody {
  d: unknown;
  c: number;
  e: number;
  t: number;
  u?: string;
  m?: Record<string, string>;
  i?: number;
  b?: 1;
}

/** The record as the body text that is sealed and stored (the serializer's text of the wire form). */
export function encodeBody(record: SessionRecord<object>, serializer: Serializer): string {
  const wire: WireBody = { d: record.data, c: record.createdAtMs, e: record.expiresAtMs, t: record.ttlMs };
  if (record.userId !== undefined) wire.u = record.userId;
  if (record.meta !== undefined) wire.m = record.meta;
  if (record.indexedUntilMs !== undefined) wire.i = record.indexedUntilMs;
  if (record.browserSession === true) wire.b = 1;
  return serializer.stringify(wire);
}

/** The stored text for a body: the version in clear, then the body, sealed when a transform is given. */
export function sealRecord(version: string, body: string, key: string, transform?: BodyTransform): string {
  return versionPrefix(version) + (transform ? transform.seal(body, key) : body);
}

export function encodeRecord(record: SessionRecord<object>, key: string, serializer: Serializer, transform?: BodyTransform): string {
  return sealRecord(record.version, encodeBody(record, serializer), key, transform);
}

/**
 * The JSON text of session data for the default serializer's fast path of a save: this one text tells an
 * unchanged session ({@link sameJsonData}) and becomes the written body ({@link encodeJsonBody}), so a save
 * stringifies the data once. Throws what JSON.stringify throws (cycles, BigInt).
 */
export function dataJson(data: object): string {
  return JSON.stringify(data);
}

/**
 * True when `dataText` (from {@link dataJson}) is exactly the data part of `body` (a body written by the
 * default JSON serializer: `{"d":<data>,"c":…`). A false answer only means "look closer" (key order may
 * differ).
 */
export function sameJsonData(body: string, dataText: string): boolean {
  const end = 5 + dataText.length;
  // A slice and `===`, not `body.startsWith(dataText, 5)`: V8's startsWith with a position and a long
  // search string took ~0.7–1 µs per call (a ~350-character session), the slice and compare ~40 ns.
  return body.startsWith('{"d":') && body.startsWith(',"c":', end) && body.slice(5, end) === dataText;
}

/**
 * After {@link sameJsonData} said no: could the data still be the stored data with its top-level keys in
 * another order (which a save reports as unchanged)? Only when the body's data part has the same length
 * and the same sum of character codes — a reordering keeps both. A changed counter or a new field changes
 * either, so a write then skips parsing the stored body and diffing field by field.
 */
export function mayBeReordered(body: string, dataText: string): boolean {
  const end = 5 + dataText.length;
  if (!body.startsWith('{"d":') || !body.startsWith(',"c":', end)) return false;
  if (dataText.length <= SCRATCH_BYTES / 3) return byteSum(dataText) === byteSum(body.slice(5, end));
  let sum = 0;
  for (let i = 0; i < dataText.length; i++) sum += dataText.charCodeAt(i) - body.charCodeAt(5 + i);
  return sum === 0;
}

const SCRATCH_BYTES = 48 * 1024;
const encoder = new TextEncoder();
let scratch: Uint8Array | undefined;

/**
 * The sum of `text`'s UTF-8 bytes (a reordering of the same characters keeps it): the native encoder
 * then a loop over bytes costs a third of a `charCodeAt` loop, per write of a ~300-byte session 2.5–4
 * → ~1 µs. For texts up to a third of the scratch buffer (3 bytes per UTF-16 unit at most).
 */
function byteSum(text: string): number {
  scratch ??= new Uint8Array(SCRATCH_BYTES);
  const { written } = encoder.encodeInto(text, scratch);
  let sum = 0;
  for (let i = 0; i < written; i++) sum += scratch[i] as number;
  return sum;
}

/**
 * What `encodeBody(record, jsonSerializer)` returns, built around the data's JSON text instead of
 * stringifying the data again. The fields are finite numbers and strings, in the wire form's order.
 */
export function encodeJsonBody(dataText: string, record: Omit<SessionRecord<object>, "data" | "version">): string {
  let body = `{"d":${dataText},"c":${record.createdAtMs},"e":${record.expiresAtMs},"t":${record.ttlMs}`;
  if (record.userId !== undefined) body += `,"u":${JSON.stringify(record.userId)}`;
  if (record.meta !== undefined) body += `,"m":${JSON.stringify(record.meta)}`;
  if (record.indexedUntilMs !== undefined) body += `,"i":${record.indexedUntilMs}`;
  if (record.browserSession === true) body += `,"b":1`;
  return `${body}}`;
}

/** Reads the version without decoding the body; null when the text is not an envelope. */
export function peekVersion(text: string): string | null {
  if (!text.startsWith(MAGIC) || text.charAt(MAGIC.length + VERSION_LENGTH) !== ":") return null;
  return text.slice(MAGIC.length, MAGIC.length + VERSION_LENGTH);
}

/**
 * Decodes a stored value. Returns null for anything that is not a well-formed record (including a body
 * that does not open, or a serializer or transform that throws): stored bytes are untrusted input.
 */
export function decodeRecord(text: string, key: string, serializer: Serializer, transform?: BodyTransform): SessionRecord | null {
  const version = peekVersion(text);
  if (version === null) return null;
  const body = openBody(sealedBody(text), key, transform);
  return body === null ? null : parseBody(body, version, serializer);
}

/** The plaintext of an envelope's body part (`sealedBody`), opened when sealed; null when it does not open. */
export function openBody(sealed: string, key: string, transform?: BodyTransform): string | null {
  if (!transform) return sealed;
  try {
    return transform.open(sealed, key);
  } catch {
    return null;
  }
}

/** Parses a plaintext body into a record with the given version; null when it is not a well-formed record. */
export function parseBody(body: string, version: string, serializer: Serializer): SessionRecord | null {
  let wire: unknown;
  try {
    wire = serializer.parse(body);
  } catch {
    return null;
  }
  if (!isPlainObject(wire)) return null;
  const { d, c, e, t, u, m, i, b } = wire as Partial<WireBody> & Record<string, unknown>;
  // A fractional or absurd TTL (older versions stored `ttlMs` as given) is rounded up and capped, never fatal.
  const ttlMs = storedTtlMs(t);
  if (!isPlainObject(d) || !isFiniteNumber(c) || !isFiniteNumber(e) || ttlMs === null) return null;
  if (tooDeep(d)) return null; // deeper than a write allows (depth.ts): not something this store wrote
  if (u !== undefined && typeof u !== "string") return null;
  if (m !== undefined && !isStringRecord(m)) return null;
  if (i !== undefined && !isFiniteNumber(i)) return null;
  const record: SessionRecord = { data: d, createdAtMs: c, expiresAtMs: e, ttlMs, version };
  if (u !== undefined) record.userId = u;
  if (m !== undefined) record.meta = m;
  if (i !== undefined) record.indexedUntilMs = i;
  if (b === 1) record.browserSession = true; // anything else: not a browser-session cookie, never an error
  return record;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return isPlainObject(value) && Object.values(value).every((v) => typeof v === "string");
}
