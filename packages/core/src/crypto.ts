import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { configError, describe, SessionStoreError } from "./errors.js";
import type { BodyTransform } from "./record.js";

/** One key of the encryption keyring. */
export interface EncryptionKey {
  /** A short public name for the key (1–32 of `A-Z a-z 0-9 _ -`), stored in clear beside each record so the right key is picked on read. */
  id: string;
  /** 32 random bytes: a Buffer/Uint8Array, or a string of 64 hex digits or of base64/base64url. */
  key: string | Uint8Array;
}

export interface EncryptionSettings {
  keys: ReadonlyArray<EncryptionKey>;
  /** Also read records stored before encryption was turned on. */
  allowUnencryptedReads: boolean;
}

// Sealed body: `e1.<keyId>.<base64url(iv ‖ ciphertext ‖ tag)>`. The key id is in clear so a reader
// knows which key to use; everything else is authenticated.
const SEALED = "e1.";
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * AES-256-GCM with a keyring: the first key encrypts, every listed key decrypts, so adding a new key in
 * front rotates without logging anybody out. The backend key is the additional authenticated data: a
 * value copied under another key (another session) does not open.
 */
export function createEncryption(settings: EncryptionSettings): BodyTransform {
  const ring = parseKeyring(settings.keys);
  const newest = ring[0] as { id: string; key: Buffer };
  const byId = new Map(ring.map((entry) => [entry.id, entry.key]));
  return {
    seal(body, key) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", newest.key, iv);
      cipher.setAAD(Buffer.from(key, "utf8"));
      const sealed = Buffer.concat([iv, cipher.update(body, "utf8"), cipher.final(), cipher.getAuthTag()]);
      return `${SEALED}${newest.id}.${sealed.toString("base64url")}`;
    },
    // Sealed with an older key (or stored before encryption): the store seals it again on its next read,
    // so that once every live session has been read or has expired, the old key can be removed.
    stale: (sealed) => !sealed.startsWith(`${SEALED}${newest.id}.`),
    open(sealed, key) {
      if (!sealed.startsWith(SEALED)) return settings.allowUnencryptedReads ? sealed : null;
      const dot = sealed.indexOf(".", SEALED.length);
      if (dot < 0) return null;
      const secret = byId.get(sealed.slice(SEALED.length, dot));
      if (secret === undefined) return null;
      const bytes = Buffer.from(sealed.slice(dot + 1), "base64url");
      if (bytes.length < IV_BYTES + TAG_BYTES) return null;
      try {
        const decipher = createDecipheriv("aes-256-gcm", secret, bytes.subarray(0, IV_BYTES));
        decipher.setAAD(Buffer.from(key, "utf8"));
        decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
        return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString("utf8");
      } catch {
        return null; // wrong key, tampered ciphertext or tag: the record does not open
      }
    },
  };
}

function parseKeyring(keys: unknown): Array<{ id: string; key: Buffer }> {
  if (!Array.isArray(keys) || keys.length === 0) {
    throw configError("encryptionKeys", "a non-empty array of { id, key } (the first one encrypts)", keys);
  }
  const seen = new Set<string>();
  return keys.map((entry: unknown, index) => {
    const where = `encryptionKeys[${index}]`;
    if (entry === null || typeof entry !== "object") throw configError(where, "an object { id, key }", entry);
    const { id, key } = entry as { id?: unknown; key?: unknown };
    if (typeof id !== "string" || !KEY_ID.test(id)) throw configError(`${where}.id`, "1 to 32 characters of A-Z a-z 0-9 _ -", id);
    if (seen.has(id)) throw configError(`${where}.id`, "unique within the keyring (this id is listed twice)");
    seen.add(id);
    return { id, key: keyBytes(`${where}.key`, key) };
  });
}

/** Decodes a 32-byte key. Messages describe the value's shape, never its content. */
export function keyBytes(option: string, value: unknown): Buffer {
  let bytes: Buffer | undefined;
  if (value instanceof Uint8Array) bytes = Buffer.from(value);
  else if (typeof value === "string") {
    if (/^[0-9a-fA-F]{64}$/.test(value)) bytes = Buffer.from(value, "hex");
    else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(value)) bytes = Buffer.from(value, "base64");
  }
  if (bytes === undefined || bytes.length !== 32) {
    const got = value instanceof Uint8Array ? `${value.length} bytes` : describe(value);
    throw new SessionStoreError("CONFIG", `option "${option}" must be 32 random bytes: a Buffer, 64 hex digits or 44 characters of base64, e.g. randomBytes(32).toString("base64") (got ${got})`);
  }
  return bytes;
}
