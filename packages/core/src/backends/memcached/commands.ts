import memjs from "memjs";

/**
 * Binary-protocol requests sent through memjs's `Client#perform` (its framing, sequencing and
 * timeouts). memjs's own helpers cover get/set/add/replace/delete/touch, but drop the CAS token and
 * have no GAT; both are plain binary-protocol requests, so every command is built the same way here.
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

const NO_LOG = { log: () => undefined };

/** A memjs client bound to one node: no retries and no failover of its own (the pool decides). */
export function singleNodeClient(server: memjs.Server): memjs.Client {
  return new memjs.Client([server], { retries: 1, failover: false, logger: NO_LOG });
}

export function send(client: memjs.Client, opcode: number, key: string, extras: Buffer | string = "", value: string = "", cas?: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    client.incrSeq();
    const seq = client.seq;
    const request = memjs.Utils.makeRequestBuffer(opcode, key, extras, value, seq);
    if (cas !== undefined) cas.copy(request, 16); // the header's CAS field: the server compares it
    client.perform(key, request, seq, (error: Error | null, response?: memjs.Response) => {
      if (error) reject(error);
      else if (response === undefined) reject(new Error("no response"));
      else resolve({ status: response.header.status ?? 0, value: response.val, cas: response.header.cas ?? Buffer.alloc(8) });
    });
  });
}

/** Extras of SET / ADD / REPLACE: 4 bytes of flags (unused: 0) and the expiration. */
export function storeExtras(expiration: number): Buffer {
  const extras = Buffer.alloc(8);
  extras.writeUInt32BE(expiration, 4);
  return extras;
}

/** Extras of TOUCH / GAT: the expiration alone. */
export function expirationExtras(expiration: number): Buffer {
  const extras = Buffer.alloc(4);
  extras.writeUInt32BE(expiration, 0);
  return extras;
}

export function isZero(cas: Buffer): boolean {
  return cas.every((byte) => byte === 0);
}
