import type { NodeConnection } from "./connection.js";

/**
 * Binary-protocol requests, framed here and written through the node's connection (memjs's Server:
 * its sequencing of replies and per-request timeouts). memjs's Client helpers drop the CAS token and
 * have no GAT, and its framing allocates five buffers and a header object per request; one buffer
 * framed in place does the same work.
 */
export const Opcode = {
  get: 0x00,
  set: 0x01,
  add: 0x02,
  replace: 0x03,
  delete: 0x04,
  noop: 0x0a,
  touch: 0x1c,
  /** Get-and-touch: read a value and reset its expiration in one round trip. */
  gat: 0x1d,
} as const;

export const Status = {
  ok: 0x00,
  notFound: 0x01,
  exists: 0x02,
  tooLarge: 0x03,
  notStored: 0x05,
} as const;

export interface Reply {
  status: number;
  value: Buffer;
  /** 8-byte CAS token of the item (all zeros when the server runs with CAS disabled, `-C`). */
  cas: Buffer;
}

/** Bytes of the extras each opcode carries: SET / ADD / REPLACE flags (unused: 0) and expiration; TOUCH / GAT the expiration alone. */
function extrasLength(opcode: number): number {
  if (opcode === Opcode.set || opcode === Opcode.add || opcode === Opcode.replace) return 8;
  if (opcode === Opcode.touch || opcode === Opcode.gat) return 4;
  return 0;
}

/**
 * One request in one buffer: the 24-byte header, the extras the opcode needs, the key (memcached keys
 * are ASCII, see keys.ts) and the value. `expiration` is memcached's expiration field (see ttl.ts).
 */
function frame(opcode: number, key: string, expiration: number, value: string, opaque: number, cas: Buffer | undefined): Buffer {
  const extras = extrasLength(opcode);
  const keyBytes = key.length;
  const valueBytes = value.length === 0 ? 0 : Buffer.byteLength(value, "utf8");
  const body = extras + keyBytes + valueBytes;
  const request = Buffer.allocUnsafe(24 + body);
  request[0] = 0x80; // request magic
  request[1] = opcode;
  request.writeUInt16BE(keyBytes, 2);
  request[4] = extras;
  request[5] = 0; // data type
  request.writeUInt16BE(0, 6); // vbucket
  request.writeUInt32BE(body, 8);
  request.writeUInt32BE(opaque, 12);
  if (cas === undefined) request.fill(0, 16, 24);
  else cas.copy(request, 16, 0, 8); // the server compares it with the item's
  if (extras === 8) request.writeUInt32BE(0, 24); // flags
  if (extras > 0) request.writeUInt32BE(expiration, 24 + extras - 4);
  request.write(key, 24 + extras, keyBytes, "latin1");
  if (valueBytes > 0) request.write(value, 24 + extras + keyBytes, valueBytes, "utf8");
  return request;
}

/** Sends one request to the node and resolves its reply (rejects when the connection fails or times out). */
export function send(connection: NodeConnection, opcode: number, key: string, expiration = 0, value = "", cas?: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const opaque = connection.nextOpaque();
    connection.dispatch(opaque, frame(opcode, key, expiration, value, opaque, cas), { resolve, reject });
  });
}

export function isZero(cas: Buffer): boolean {
  return cas.every((byte) => byte === 0);
}
