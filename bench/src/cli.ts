import type { HttpSettings } from "./http-phase.js";
import type { Workload } from "./matrix.js";

export type Section = "http" | "store" | "failure";

export interface Settings {
  sections: Section[];
  http: HttpSettings;
  /** Seconds of each store-level round. */
  storeSeconds: number;
  storeRounds: number;
  /** Seconds of load against each app while Redis is down. */
  failureSeconds: number;
  /** The core store's operation deadline in the apps (ms). */
  timeoutMs: number;
  /** Write bench/results/latest.* (only for a complete, non-filtered run unless forced). */
  writeLatest: boolean;
  quick: boolean;
  /** Rebuild the reports from the raw figures of this saved run instead of measuring (`--report-from`). */
  reportFrom?: string;
}

const HELP = `pnpm bench [options]
  --quick              1 round of short runs (a smoke test, ~3 min); results go to bench/results/raw/
  --only a,b           only rows whose id contains one of these (e.g. express/ours,koa/koa-redis)
  --sections list      http,store,failure (default: all three)
  --workloads list     read,write,new (default: all three)
  --rounds N           alternated rounds per configuration (default 3)
  --seconds N          seconds of each read-mostly run (default 4; other workloads: half, at least 2)
  --connections N      autocannon connections (default 50)
  --write-latest       write bench/results/latest.* even for a partial run
  --report-from FILE   measure nothing: rebuild the reports from the raw figures of a saved run's .json
                       (after a change to how they are summarized); latest.json is written back in place`;

export function parseArgs(argv: readonly string[]): Settings {
  const args = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") continue;
    if (!arg.startsWith("--")) throw new Error(`unexpected argument "${arg}"\n${HELP}`);
    const [name, inline] = arg.slice(2).split("=", 2) as [string, string | undefined];
    const next = argv[i + 1];
    if (inline !== undefined) args.set(name, inline);
    else if (next !== undefined && !next.startsWith("--") && !["quick", "write-latest", "help"].includes(name)) args.set(name, (i++, next));
    else args.set(name, true);
  }
  if (args.has("help")) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const known = new Set(["quick", "only", "sections", "workloads", "rounds", "seconds", "connections", "write-latest", "report-from"]);
  for (const name of args.keys()) if (!known.has(name)) throw new Error(`unknown option --${name}\n${HELP}`);
  const quick = args.has("quick");
  const number = (name: string, fallback: number): number => {
    const value = args.get(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed <= 0) throw new Error(`--${name} takes a positive whole number (got ${String(value)})`);
    return parsed;
  };
  const list = (name: string): string[] | undefined => {
    const value = args.get(name);
    return typeof value === "string" ? value.split(",").map((part) => part.trim()).filter(Boolean) : undefined;
  };
  const sections = (list("sections") ?? ["http", "store", "failure"]) as Section[];
  for (const section of sections) if (!["http", "store", "failure"].includes(section)) throw new Error(`--sections takes http, store and/or failure (got ${section})`);
  const workloads = (list("workloads") ?? ["read", "write", "new"]) as Workload[];
  for (const workload of workloads) if (!["read", "write", "new"].includes(workload)) throw new Error(`--workloads takes read, write and/or new (got ${workload})`);
  const readSeconds = number("seconds", quick ? 2 : 4);
  const only = list("only");
  const reportFrom = args.get("report-from");
  if (reportFrom === true) throw new Error(`--report-from takes the .json file of a saved run\n${HELP}`);
  return {
    ...(reportFrom === undefined ? {} : { reportFrom }),
    sections,
    quick,
    http: {
      rounds: number("rounds", quick ? 1 : 3),
      readSeconds,
      otherSeconds: Math.max(2, Math.floor(readSeconds / 2)),
      connections: number("connections", 50),
      users: quick ? 100 : 500,
      countRequests: 200,
      only,
      workloads,
    },
    storeSeconds: quick ? 1 : 3,
    storeRounds: quick ? 1 : 3,
    failureSeconds: quick ? 2 : 4,
    timeoutMs: 1000,
    writeLatest: args.has("write-latest") || (!quick && only === undefined && sections.length === 3 && workloads.length === 3),
  };
}
