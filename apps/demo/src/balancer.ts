import { request as httpRequest, Agent, createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { LocalRoutes } from "./operations/console.js";

/** One upstream instance. */
export interface Upstream {
  name: string;
  port: number;
}

export interface Balancer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

// Hop-by-hop headers belong to one connection and must not be forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization"]);

function forwardable(headers: IncomingMessage["headers"]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

/**
 * A tiny round-robin HTTP load balancer: each request (not each connection) goes to the next instance,
 * so consecutive page views land on different instances and frameworks. It sets X-Forwarded-For /
 * -Proto / -Host like a real one. A request that cannot reach its instance moves to the next one
 * when nothing has been sent yet (the body is buffered, so a retried POST is complete). `local` answers
 * the requests that are the balancer's own (see operations/console.ts).
 */
export async function startBalancer(upstreams: readonly Upstream[], port: number, host = "127.0.0.1", local?: LocalRoutes): Promise<Balancer> {
  if (upstreams.length === 0) throw new Error("the balancer needs at least one upstream instance");
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let next = 0;

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, attemptsLeft: number): void => {
    const upstream = upstreams[next++ % upstreams.length] as Upstream;
    const headers = forwardable(req.headers);
    const client = req.socket.remoteAddress ?? "";
    // Forwarding headers are believed only from a proxy on this machine (a TLS terminator in front of
    // the demo); from anyone else they could be forged, so they are replaced.
    const local = client === "127.0.0.1" || client === "::1" || client === "::ffff:127.0.0.1";
    const prior = req.headers["x-forwarded-for"];
    headers["x-forwarded-for"] = local && prior ? `${String(prior)}, ${client}` : client;
    headers["x-forwarded-proto"] = local && req.headers["x-forwarded-proto"] === "https" ? "https" : "http";
    headers["x-forwarded-host"] = req.headers.host ?? "";
    headers["content-length"] = String(body.length);
    const proxied = httpRequest({ host: "127.0.0.1", port: upstream.port, method: req.method, path: req.url, headers, agent }, (upstreamRes) => {
      res.writeHead(upstreamRes.statusCode ?? 502, forwardable(upstreamRes.headers));
      upstreamRes.pipe(res);
    });
    proxied.on("error", () => {
      if (res.headersSent) return res.destroy();
      if (attemptsLeft > 1) return forward(req, res, body, attemptsLeft - 1);
      res.writeHead(502, { "content-type": "text/plain; charset=utf-8" }).end("502: no demo instance answered\n");
    });
    proxied.end(body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      // Forms here are tiny; a large body is a mistake or an attack.
      if (size > 64 * 1024) {
        res.writeHead(413, { connection: "close" }).end();
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      // The fleet's own pages (metrics, operations) are the balancer's: no single instance sees them all.
      if (local?.(req, res, body)) return;
      forward(req, res, body, upstreams.length);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    server,
    port: typeof address === "object" && address ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
