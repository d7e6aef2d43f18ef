// `pnpm bench`: starts one redis-server and one memcached on free loopback ports, runs the HTTP
// matrix (Express, Fastify, Koa × stores × workloads), the store-level run and the failure run, then
// writes bench/results/latest.{json,md,svg}. docs/benchmarks.md explains the method.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, type Settings } from "./cli.js";
import { runFailurePhase, type FailureResult } from "./failure.js";
import { runHttpPhase, type HttpCell } from "./http-phase.js";
import { markdownReport } from "./report-md.js";
import { svgChart } from "./report-svg.js";
import { startMemcached, startRedis } from "./servers.js";
import { runStoreLevel, type OpResult } from "./store-level.js";
import { checkCpuTargets, checkTargets, summarizeHttp, summarizeStore } from "./summary.js";
import { environment } from "./versions.js";

const args = parseArgs(process.argv.slice(2));
const resultsDir = join(dirname(fileURLToPath(import.meta.url)), "..", "results");
const log = (message: string) => process.stdout.write(`[bench] ${message}\n`);

/** What a run measured: everything the reports are built from (and what `--report-from` reads back). */
interface Measured {
  settings: Settings;
  startedAt: Date;
  finishedAt: Date;
  env: ReturnType<typeof environment>;
  http: HttpCell[];
  store: OpResult[];
  failures: FailureResult[];
}

const measured = args.reportFrom === undefined ? await measure(args) : readSaved(args.reportFrom);
const { settings, startedAt, finishedAt, env, http, store, failures } = measured;

async function measure(settings: Settings): Promise<Measured> {
  const startedAt = new Date();
  const env = environment();
  const redis = await startRedis();
  const memcached = await startMemcached();
  const redisUrl = `redis://127.0.0.1:${redis.port}`;
  log(`redis-server ${String(env.redisServer)} on ${redis.port}, memcached ${String(env.memcached)} on ${memcached.port}`);
  let http: HttpCell[] = [];
  let store: OpResult[] = [];
  let failures: FailureResult[] = [];
  try {
    const targets = { redisUrl, memcachedServer: `127.0.0.1:${memcached.port}`, timeoutMs: settings.timeoutMs };
    if (settings.sections.includes("http")) http = await runHttpPhase(settings.http, { redisUrl, redisPort: redis.port, memcachedPort: memcached.port }, targets);
    if (settings.sections.includes("store")) store = await runStoreLevel(redisUrl, settings.storeSeconds, settings.storeRounds, settings.http.connections);
  } finally {
    await redis.stop();
    await memcached.stop();
  }
  // Last, with its own redis-server: it stops and restarts that server on purpose.
  if (settings.sections.includes("failure")) failures = await runFailurePhase(settings.failureSeconds, settings.timeoutMs, settings.http.only);
  return { settings, startedAt, finishedAt: new Date(), env, http, store, failures };
}

/** A saved run's raw figures, to build its reports again; they go where that run wrote them. */
function readSaved(file: string): Measured {
  const saved = JSON.parse(readFileSync(file, "utf8")) as { startedAt: string; finishedAt: string; settings: Settings; environment: ReturnType<typeof environment>; failures: FailureResult[]; raw: { http: HttpCell[]; store: OpResult[] } };
  log(`rebuilding the reports of the run of ${saved.startedAt} (commit ${String(saved.environment.commit)}) from ${file}`);
  return { settings: saved.settings, startedAt: new Date(saved.startedAt), finishedAt: new Date(saved.finishedAt), env: saved.environment, http: saved.raw.http, store: saved.raw.store, failures: saved.failures };
}

const httpLines = summarizeHttp(http);
const storeLines = summarizeStore(store);
const targets = checkTargets(httpLines, storeLines, failures, settings.timeoutMs);
const cpuTargets = checkCpuTargets(httpLines);
const results = { startedAt: startedAt.toISOString(), finishedAt: finishedAt.toISOString(), settings, environment: env, cpuTargets, targets, summary: { http: httpLines, store: storeLines }, failures, raw: { http, store } };
const report = markdownReport({
  startedAt: startedAt.toISOString(),
  environment: env,
  settings: { ...settings.http, timeoutMs: settings.timeoutMs },
  http: httpLines,
  store: storeLines,
  failures,
  targets,
  cpuTargets,
});
const caption = `${startedAt.toISOString().slice(0, 16)}Z · commit ${String(env.commit)} · Node ${String(env.node)} · redis ${String(env.redisServer)} · memcached ${String(env.memcached)} · ${String(env.cpus)} cores (shared, noisy) · autocannon ${settings.http.connections} connections · median of ${settings.http.rounds} alternated rounds`;

const dir = settings.writeLatest ? resultsDir : join(resultsDir, "raw");
const base = settings.writeLatest ? "latest" : startedAt.toISOString().replace(/[:.]/g, "-");
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, `${base}.json`), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(dir, `${base}.md`), report);
writeFileSync(join(dir, `${base}.svg`), svgChart(httpLines, caption));
if (settings.writeLatest) publishInDocs(report);
log(`${args.reportFrom === undefined ? `took ${Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000)} s; ` : ""}wrote ${join(dir, base)}.{json,md,svg}`);
for (const target of [...cpuTargets, ...targets]) log(`target ${target.status.padEnd(12)} ${target.name}: ${target.measured}`);

/**
 * Complete runs only: the whole report goes into docs/benchmarks.md, and its run line, the targets and
 * the read-mostly table (the common case) into the root README, each between its markers.
 */
function publishInDocs(markdown: string): void {
  const root = join(resultsDir, "..", "..");
  const body = markdown.replace(/^# .*\n+/, "").replace(/^## /gm, "### ");
  replaceBetween(join(root, "docs", "benchmarks.md"), "results", body);
  const [intro = "", ...sections] = body.split(/^(?=### )/m);
  const runLine = intro.split("\n").find((line) => line.startsWith("Run ")) ?? "";
  const wanted = sections.filter((section) => /^### (Targets|HTTP: read-mostly)/.test(section));
  replaceBetween(join(root, "README.md"), "bench", [runLine, ...wanted].join("\n\n"));
}

function replaceBetween(file: string, marker: string, content: string): void {
  if (!existsSync(file)) return;
  const text = readFileSync(file, "utf8");
  const start = `<!-- ${marker}:start -->`;
  const end = `<!-- ${marker}:end -->`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) return;
  writeFileSync(file, `${text.slice(0, from + start.length)}\n${content.trim()}\n${text.slice(to)}`);
  log(`updated ${file}`);
}
