import diagnosticsChannel from "node:diagnostics_channel";
import { createSessionStore, memoryBackend, TRACING_CHANNELS, type OperationContext } from "@sessionbridge/core";
import { round } from "./stats.js";

/**
 * What the tracing channels cost a store read: client CPU per `get` with nobody subscribed, and with a
 * subscriber on every sub-channel that does nothing (the floor of any APM tool). On the memory backend,
 * so the figure is the store's own CPU, not a client library's or a server's. Rounds alternate so a busy
 * machine hurts both sides alike. Run: `pnpm exec tsx src/tracing-cost.ts`.
 */
const OPS = 200_000;
const ROUNDS = 5;

const store = createSessionStore({ backend: memoryBackend(), timeoutMs: 1000 });
await store.set("bench-session", { userId: "u1", cart: [1, 2, 3], views: 7 });

async function cpuPerGetUs(): Promise<number> {
  const cpu = process.cpuUsage();
  for (let i = 0; i < OPS; i++) await store.get("bench-session");
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / OPS;
}

const noop = (_: OperationContext) => undefined;
const handlers = { start: noop, end: noop, asyncStart: noop, asyncEnd: noop, error: noop };
const channel = diagnosticsChannel.tracingChannel<unknown, OperationContext>(TRACING_CHANNELS.get);

const without: number[] = [];
const withSubscriber: number[] = [];
await cpuPerGetUs(); // warm-up
for (let round_ = 0; round_ < ROUNDS; round_++) {
  without.push(await cpuPerGetUs());
  channel.subscribe(handlers);
  withSubscriber.push(await cpuPerGetUs());
  channel.unsubscribe(handlers);
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
console.log(`store.get on the memory backend, ${OPS} operations × ${ROUNDS} rounds, median CPU per operation:`);
console.log(`  nobody subscribed:        ${round(median(without))} µs (rounds: ${without.map((v) => round(v)).join(", ")})`);
console.log(`  no-op tracing subscriber: ${round(median(withSubscriber))} µs (rounds: ${withSubscriber.map((v) => round(v)).join(", ")})`);
await store.close();
