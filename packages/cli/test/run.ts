import { execFile, spawn, type ChildProcess } from "node:child_process";
import { watch } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built `sessionbridge` bin as an operator would (a child process, nothing shared), with
 * `env` added to a clean environment. Every run is checked for the given secrets in its output: the
 * command must never print a password or key.
 */
export function sessionbridge(args: readonly string[], options: { env?: Record<string, string>; secrets?: readonly string[]; input?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? "", ...options.env }, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof (error as { code?: unknown }).code === "number" ? ((error as { code: number }).code) : -1;
      for (const secret of options.secrets ?? []) {
        expect(stdout, `stdout of sessionbridge ${args.join(" ")}`).not.toContain(secret);
        expect(stderr, `stderr of sessionbridge ${args.join(" ")}`).not.toContain(secret);
      }
      resolve({ code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** Starts the bin without waiting for it (to signal it mid-run); `done` resolves its exit and output. */
export function startSessionbridge(args: readonly string[], env: Record<string, string>): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<Run>((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr })));
  return { child, done };
}

/** Resolves when a file named `name` appears in `dir` (created, or renamed into place): a point to interrupt a run at. */
export function fileAppears(dir: string, name: string): Promise<void> {
  return new Promise((resolve) => {
    const watcher = watch(dir, (_event, changed) => {
      if (changed === name) {
        watcher.close();
        resolve();
      }
    });
  });
}
