import { configError } from "../../errors.js";
import { hostPort } from "../host-port.js";

/** How a node is named in labels, messages and the hash ring: `host:port`, IPv6 in brackets. */
export function nodeName(node: { host: string; port: number }): string {
  return hostPort(node.host, node.port);
}

/** Parses `"host"`, `"host:port"` or `"[ipv6]:port"`, or checks a `{ host, port }` object. */
export function nodeAddress(server: unknown, option = "servers"): { host: string; port: number } {
  if (typeof server === "string") {
    const match = /^(?:\[([^\]]+)\]|([^:[\]\s,/@]+))(?::(\d+))?$/.exec(server.trim());
    if (!match) throw configError(option, 'a list of "host:port" entries (IPv6 as "[::1]:11211")', server);
    return { host: (match[1] ?? match[2]) as string, port: port(option, match[3] === undefined ? 11211 : Number(match[3])) };
  }
  if (server !== null && typeof server === "object") {
    const { host, port: p } = server as { host?: unknown; port?: unknown };
    if (typeof host === "string" && host.length > 0) return { host, port: port(option, p ?? 11211) };
  }
  throw configError(option, 'a list of "host:port" strings or { host, port } objects', server);
}

function port(option: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 65535) throw configError(option, "ports between 1 and 65535", value);
  return value;
}

