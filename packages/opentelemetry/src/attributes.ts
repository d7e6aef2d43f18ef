import type { Attributes } from "@opentelemetry/api";
import type { CacheOperationContext, OperationContext, ServedBy } from "@sessionbridge/core";

/**
 * Attribute names. Where OpenTelemetry's database client conventions have one, it is used
 * (`db.system.name`, `db.operation.name`, `error.type`); the rest are sessionbridge's own, under
 * `sessionbridge.*` (docs/operations.md lists where and why this deviates from the conventions).
 */
export const ATTR = {
  system: "db.system.name",
  operation: "db.operation.name",
  errorType: "error.type",
  serverAddress: "server.address",
  serverPort: "server.port",
  nodeRole: "sessionbridge.node.role",
  outcome: "sessionbridge.outcome",
  prefix: "sessionbridge.prefix",
  backend: "sessionbridge.backend",
  bytes: "sessionbridge.bytes",
  retries: "sessionbridge.retries",
} as const;

/**
 * The server that served the operation (`OperationContext.node`): its role (`primary`, `replica`, `node`)
 * and, only with `withAddress` (includeBackend), its address as the database client conventions name it,
 * `server.address` and `server.port`.
 */
export function serverAttributes(context: { readonly node?: ServedBy }, withAddress: boolean): Attributes {
  const node = context.node;
  if (node === undefined) return {};
  const attributes: Attributes = { [ATTR.nodeRole]: node.role };
  if (!withAddress || node.address === undefined) return attributes;
  const colon = node.address.lastIndexOf(":");
  const host = node.address.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const port = Number(node.address.slice(colon + 1));
  if (colon > 0 && Number.isInteger(port)) {
    attributes[ATTR.serverAddress] = host;
    attributes[ATTR.serverPort] = port;
  }
  return attributes;
}

/** `error.type`: the SessionStoreError's code (TIMEOUT, UNAVAILABLE, …), else the error's name. */
export function errorType(error: unknown): string | undefined {
  if (error === undefined) return undefined;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string") return code;
  return error instanceof Error ? error.name : "_OTHER";
}

/** What an operation is, known when it starts: system, operation, prefix, and the backend's label only when asked (it names a host and port). */
export function operationAttributes(context: OperationContext | CacheOperationContext, withBackend: boolean): Attributes {
  const attributes: Attributes = { [ATTR.system]: context.system, [ATTR.operation]: context.operation, [ATTR.prefix]: context.prefix };
  if (withBackend) attributes[ATTR.backend] = context.backend;
  return attributes;
}

/**
 * The low-cardinality attributes shared by spans and metric points: the operation's (operationAttributes),
 * then its outcome or error type.
 */
export function baseAttributes(context: OperationContext | CacheOperationContext, withBackend: boolean): Attributes {
  const attributes = operationAttributes(context, withBackend);
  if (context.outcome !== undefined) attributes[ATTR.outcome] = context.outcome;
  const type = errorType(context.error);
  if (type !== undefined) attributes[ATTR.errorType] = type;
  return attributes;
}
