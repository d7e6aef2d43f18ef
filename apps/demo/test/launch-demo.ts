import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

// `pnpm demo` as a user runs it: the real entry point in its own process, stopped with Ctrl-C (SIGINT).
// Run from source through tsx, with a tsconfig that maps the workspace packages to their sources, so
// the tests need no build.

const demoDir = fileURLToPath(new URL("..", import.meta.url));
const started: ChildProcess[] = [];

export interface Spawned {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** `pnpm demo`'s entry point in its own process, its stdout and stderr collected. */
export function spawnDemo(env: NodeJS.ProcessEnv): Spawned {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: demoDir,
    env: { ...process.env, PORT: "0", TSX_TSCONFIG_PATH: "tsconfig.check.json", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Starts the demo and waits until it prints the URL to open. */
export async function launch(env: NodeJS.ProcessEnv): Promise<Spawned & { url: string }> {
  const demo = spawnDemo(env);
  const url = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const match = /open (http:\/\/\S+)/.exec(demo.output());
      if (match?.[1]) resolve(match[1]);
    };
    demo.child.stdout?.on("data", check);
    demo.child.stderr?.on("data", check);
    void demo.exited.then((code) => reject(new Error(`the demo exited with ${code} before it was ready:\n${demo.output()}`)));
  });
  return { ...demo, url };
}

/** For afterEach: only if a test failed half-way, kill exactly the demos it started (their children follow). */
export function killStartedDemos(): void {
  for (const child of started.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

/** A visitor through the balancer: keeps the session cookie (`cookie()`: `sb.sid=…`), never follows redirects. */
export function visitor(baseUrl: string) {
  let cookie = "";
  const call = async (path: string, form?: Record<string, string>) => {
    const response = await fetch(new URL(path, baseUrl), { method: form ? "POST" : "GET", redirect: "manual", headers: { cookie, ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}) }, ...(form ? { body: new URLSearchParams(form).toString() } : {}) });
    const set = response.headers.getSetCookie().find((line) => line.startsWith("sb.sid="));
    if (set) cookie = set.split(";")[0] ?? "";
    return { status: response.status, location: response.headers.get("location"), servedBy: response.headers.get("x-served-by"), body: await response.text() };
  };
  return Object.assign(call, { cookie: () => cookie });
}

/** The CSRF token of the page's forms. */
export function csrfOf(body: string): string {
  return /name="_csrf" value="([^"]+)"/.exec(body)?.[1] ?? "";
}
