import { constants } from "node:os";
import { isSessionStoreError } from "@sessionbridge/core";
import { redact } from "./redact.js";

/** Bad input (options, arguments, a config or import file): exit code 2. Anything else that fails: 1. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Stopped by a signal (Ctrl-C, a TERM from the supervisor): exits 128 + the signal's number (130, 143), as a shell reports it. */
export class Interrupted extends Error {
  override readonly name = "Interrupted";
  readonly exitCode: number;
  constructor(signal: NodeJS.Signals, message: string) {
    super(`interrupted by ${signal} ${message}`);
    this.exitCode = 128 + constants.signals[signal];
  }
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export function print(line: string): void {
  process.stdout.write(`${redact(line)}\n`);
}

export function note(line: string): void {
  process.stderr.write(`${redact(line)}\n`);
}

/** One line for stderr saying what failed, and the exit code it means. */
export function describeFailure(error: unknown): { message: string; code: number } {
  if (error instanceof UsageError) return { message: error.message, code: EXIT_USAGE };
  if (error instanceof Interrupted) return { message: error.message, code: error.exitCode };
  if (isSessionStoreError(error)) {
    // A CONFIG error is a mistake in the options: the user's to fix, like any bad input.
    return { message: `${error.code}: ${error.message.replace(/^sessionbridge: /, "")}`, code: error.code === "CONFIG" || error.code === "INVALID_ID" ? EXIT_USAGE : EXIT_FAILED };
  }
  return { message: error instanceof Error ? error.message : String(error), code: EXIT_FAILED };
}
