import { createHash } from "node:crypto";

/** Memcached refuses keys over 250 bytes. */
export const MAX_KEY_BYTES = 250;

// Printable ASCII without space and without "%" (our escape character) passes through unchanged:
// that covers the usual base64url / hex session ids and the default "sess:" prefix.
const PLAIN = /^[\x21-\x24\x26-\x7e]*$/;

/**
 * Turns a store key into a valid memcached key (at most 250 bytes, no whitespace or control
 * characters) so any valid session id works, including unicode and spaces, up to 256 characters.
 *
 * - Plain keys are used as they are.
 * - Other keys are percent-encoded byte by byte (UTF-8), which is reversible, so two different keys
 *   never meet.
 * - A result longer than 250 bytes becomes its first 180 bytes + "%H" + SHA-256 (base64url) of the
 *   whole key. "%H" never occurs in percent-encoding (H is not a hex digit), so a hashed key cannot
 *   collide with an encoded one; two hashed keys collide only if SHA-256 does.
 */
export function encodeKey(key: string): string {
  let encoded = key;
  if (!PLAIN.test(key)) {
    encoded = "";
    for (const byte of Buffer.from(key, "utf8")) {
      encoded += byte >= 0x21 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    }
  }
  if (encoded.length <= MAX_KEY_BYTES) return encoded; // only ASCII remains, so length = bytes
  const digest = createHash("sha256").update(key, "utf8").digest("base64url");
  return `${encoded.slice(0, 180)}%H${digest}`;
}

/**
 * The store key an `encodeKey` result came from, or null for a hashed one (its end is a digest, so the
 * key cannot be rebuilt): used when listing keys (lru_crawler metadump).
 */
export function decodeKey(encoded: string): string | null {
  if (encoded.includes("%H")) return null;
  if (!encoded.includes("%")) return encoded;
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] === "%") {
      bytes.push(Number.parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(encoded.charCodeAt(i));
  }
  return Buffer.from(bytes).toString("utf8");
}
