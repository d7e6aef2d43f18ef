import type { IncomingMessage } from "node:http";

/** Reads an application/x-www-form-urlencoded body (Koa has no body parser of its own). Bounded: forms here are tiny. */
export async function readForm(req: IncomingMessage, maxBytes = 16 * 1024): Promise<Record<string, string>> {
  if (!String(req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) return {};
  let text = "";
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > maxBytes) throw Object.assign(new Error("form too large"), { status: 413 });
  }
  return Object.fromEntries(new URLSearchParams(text));
}
