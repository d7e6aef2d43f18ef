import { randomBytes } from "node:crypto";
import type { Serializer } from "@sessionbridge/core";
import type { BodyTransform } from "@sessionbridge/core/adapter";

/**
 * One cached entry as it is stored: `sbc1:<version>.<nonce>:<body>`. The header sits in clear text in
 * front so a write can compare-and-set on it (the backends' `version` condition) without decoding or
 * decrypting the body; the nonce makes two writes of the same version distinct. The body is the
 * serializer's text of `{ v, f, s, g, t }` (or `{ n: 1, … }` for a cached "not found"), sealed with
 * AES-256-GCM bound to the backend key when encryption is on.
 */
export interface Entry<V> {
  /** Write-through order: a write never replaces an entry of a higher version. */
  version: number;
  /** The clear-text header (`sbc1:<version>.<nonce>:`), the compare-and-set condition for replacing this entry. */
  header: string;
  /** True for a cached "not found". */
  negative: boolean;
  value: V | undefined;
  /** Until when (epoch ms) the entry is fresh. */
  freshUntilMs: number;
  /** Until when a stale read is served while one caller refreshes (stale-while-revalidate). */
  staleUntilMs: number;
  /** Until when the stale value stands in for a failing loader (grace). */
  graceUntilMs: number;
  /** The generation of each tag when the entry was written (tags.ts). */
  tags: Record<string, string> | undefined;
}

const MAGIC = "sbc1:";
const PROCESS_NONCE = randomBytes(6).toString("base64url");
let counter = 0;

function nonce(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return PROCESS_NONCE + counter.toString(36);
}

export interface Encoded {
  text: string;
  header: string;
}

interface WireBody {
  v?: unknown;
  n?: 1;
  f: number;
  s: number;
  g: number;
  t?: Record<string, string>;
}

export function encodeEntry<V>(entry: Omit<Entry<V>, "header">, key: string, serializer: Serializer, transform: BodyTransform | undefined): Encoded {
  const wire: WireBody = entry.negative ? { n: 1, f: entry.freshUntilMs, s: entry.staleUntilMs, g: entry.graceUntilMs } : { v: entry.value, f: entry.freshUntilMs, s: entry.staleUntilMs, g: entry.graceUntilMs };
  if (entry.tags !== undefined) wire.t = entry.tags;
  const body = serializer.stringify(wire);
  const header = `${MAGIC}${entry.version}.${nonce()}:`;
  return { text: header + (transform ? transform.seal(body, key) : body), header };
}

/**
 * Decodes stored text. Anything that is not a well-formed entry (another program's value, a body that
 * does not open, a serializer that throws) is null: stored bytes are untrusted input, and a value that
 * cannot be decoded is a miss.
 */
export function decodeEntry<V>(text: string, key: string, serializer: Serializer, transform: BodyTransform | undefined): Entry<V> | null {
  if (!text.startsWith(MAGIC)) return null;
  const end = text.indexOf(":", MAGIC.length);
  const dot = text.indexOf(".", MAGIC.length);
  if (end < 0 || dot < 0 || dot > end) return null;
  const version = Number(text.slice(MAGIC.length, dot));
  if (!Number.isSafeInteger(version) || version < 0) return null;
  let body: string | null = text.slice(end + 1);
  let wire: unknown;
  try {
    if (transform) body = transform.open(body, key);
    if (body === null) return null;
    wire = serializer.parse(body);
  } catch {
    return null;
  }
  if (wire === null || typeof wire !== "object" || Array.isArray(wire)) return null;
  const { v, n, f, s, g, t } = wire as Partial<WireBody>;
  if (typeof f !== "number" || typeof s !== "number" || typeof g !== "number") return null;
  if (t !== undefined && (t === null || typeof t !== "object" || Array.isArray(t))) return null;
  if (n !== 1 && v === undefined) return null;
  return { version, header: text.slice(0, end + 1), negative: n === 1, value: n === 1 ? undefined : (v as V), freshUntilMs: f, staleUntilMs: s, graceUntilMs: g, tags: t };
}

/** The compare-and-set condition that replaces exactly the stored text `text` (for values that are not entries). */
export function headerOf(text: string): string {
  if (text.startsWith(MAGIC)) {
    const end = text.indexOf(":", MAGIC.length);
    if (end > 0) return text.slice(0, end + 1);
  }
  return text;
}
