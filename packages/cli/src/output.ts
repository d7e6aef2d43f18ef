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
/** stdout's reader went away first (`sessionbridge export | head -1`): 128 + SIGPIPE's number, what a shell reports for cat there. */
export const EXIT_OUTPUT_CLOSED = 128 + constants.signals.SIGPIPE;

let stdoutError: NodeJS.ErrnoException | undefined;

/**
 * Listens for errors on stdout and stderr: an 'error' event nobody listens to would crash the process
 * with a stack trace. EPIPE on stdout means its reader went away (`| head -1`): the command stops
 * quietly, like cat — nothing more is printed, the store is closed, the exit code is EXIT_OUTPUT_CLOSED.
 */
export function watchOutput(): void {
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    stdoutError ??= error;
  });
  process.stderr.on("error", () => undefined); // nowhere left to say anything
}

/** stdout's reader went away (EPIPE). The event comes a tick after the write that met it. */
export function outputClosed(): boolean {
  return stdoutError?.code === "EPIPE";
}

export function print(line: string): void {
  if (stdoutError !== undefined) return;
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
