/** Ctrl-C (SIGINT) or a TERM from a supervisor, while a bulk command (migrate, export to a file) runs. */
export interface Interrupts {
  /** Aborted by the first SIGINT or SIGTERM: start nothing more, let the work in flight finish, clean up. */
  readonly signal: AbortSignal;
  /** The signal that came, if one did. */
  readonly received: NodeJS.Signals | undefined;
  /** Resolves with the first signal (also when it came before this was called). */
  readonly arrived: Promise<NodeJS.Signals>;
  /** Stops listening: a signal after this ends the process as it would without us. */
  dispose(): void;
}

/**
 * Catches the first SIGINT and SIGTERM for the caller to stop cleanly; a second one ends the process at
 * once, as usual (the listeners are `once`).
 */
export function watchInterrupts(): Interrupts {
  const stop = new AbortController();
  let received: NodeJS.Signals | undefined;
  let arrive!: (name: NodeJS.Signals) => void;
  const arrived = new Promise<NodeJS.Signals>((resolve) => (arrive = resolve));
  const onSignal = (name: NodeJS.Signals) => {
    received ??= name;
    arrive(received);
    stop.abort();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return {
    signal: stop.signal,
    get received() {
      return received;
    },
    arrived,
    dispose() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}
