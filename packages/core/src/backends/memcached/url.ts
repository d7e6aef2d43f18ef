import { configError } from "../../errors.js";
import { nodeAddress } from "./address.js";

export interface ParsedMemcachedUrl {
  nodes: Array<{ host: string; port: number }>;
  username: string | undefined;
  password: string | undefined;
  tls: boolean | undefined;
}

const SHAPE = "memcached://[user:pass@]host1:11211,host2:11211[?tls=true]";

/**
 * Parses `memcached://[user:pass@]host1:11211,host2:11211[?tls=true]`. WHATWG URL cannot hold a list
 * of hosts, so this is done by hand. Errors never repeat the URL: it may hold a password.
 */
export function parseMemcachedUrl(url: unknown): ParsedMemcachedUrl {
  if (typeof url !== "string") throw configError("url", `a string like ${SHAPE}`, url);
  const match = /^memcached:\/\/([^/?#]*)\/?(?:\?([^#]*))?$/i.exec(url.trim());
  if (!match) throw configError("url", `a URL of the form ${SHAPE}`);
  const authority = match[1] as string;
  const at = authority.lastIndexOf("@");
  let username: string | undefined;
  let password: string | undefined;
  if (at >= 0) {
    const credentials = authority.slice(0, at);
    const colon = credentials.indexOf(":");
    try {
      username = decodeURIComponent(colon >= 0 ? credentials.slice(0, colon) : credentials);
      password = colon >= 0 ? decodeURIComponent(credentials.slice(colon + 1)) : undefined;
    } catch {
      throw configError("url", "percent-encoded credentials (use encodeURIComponent on the user name and password)");
    }
    if (username === "") username = undefined;
  }
  const hosts = authority.slice(at + 1);
  if (hosts.length === 0) throw configError("url", `at least one host: ${SHAPE}`);
  const nodes = hosts.split(",").map((host) => nodeAddress(host, "url"));

  let tls: boolean | undefined;
  for (const [name, value] of new URLSearchParams(match[2] ?? "")) {
    if (name !== "tls") throw configError("url", `no query parameters other than tls=true|false (got "${name}")`);
    if (value !== "true" && value !== "false" && value !== "1" && value !== "0") throw configError("url", "tls=true or tls=false in its query");
    tls = value === "true" || value === "1";
  }
  return { nodes, username, password, tls };
}
