import { afterAll, afterEach } from "vitest";

// ioredis prints "[ioredis] Unhandled error event: …" (console.error) when it emits 'error' on a client
// nobody listens to, and goes on. In a real process that line is all anyone sees of a connection
// trouble; here it fails the test that caused it, so every client the library, the harness or a test
// creates keeps an 'error' listener (the library's own: packages/core/src/backends/redis/client.ts).
const PREFIX = "[ioredis] Unhandled error event";
const seen: string[] = [];
const print = console.error.bind(console);
console.error = (...args: unknown[]) => {
  if (typeof args[0] === "string" && args[0].startsWith(PREFIX)) seen.push(String(args[1] ?? "").split("\n")[0] ?? "");
  print(...args);
};

function check(): void {
  if (seen.length === 0) return;
  const errors = seen.splice(0);
  throw new Error(`${errors.length} ioredis error event(s) had no listener (first: ${errors[0]}): give the client that emitted it client.on("error", …)`);
}
afterEach(check);
afterAll(check);
