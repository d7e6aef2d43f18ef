import { isSessionStoreError } from "@sessionbridge/core";

/** True for a failure that means "the backend cannot be reached right now", not "this one key is bad". */
export function isOutage(error: unknown): boolean {
  return isSessionStoreError(error) && (error.code === "TIMEOUT" || error.code === "UNAVAILABLE" || error.code === "AUTH");
}

export interface HealthEvents {
  unavailable(error: Error): void;
  available(): void;
}

/**
 * The cache's view of its backend. The first failure that means an outage flips it to down and is
 * reported once ('unavailable'); while down, the cache does not ask the backend at all (each read goes
 * straight to the loader, nothing waits for a deadline) and a ping probes it every `probeIntervalMs`.
 * The first answer flips it back ('available') and replays what could not be written meanwhile.
 */
export class Health {
  private down = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly probeIntervalMs: number,
    private readonly probe: () => Promise<void>,
    private readonly events: HealthEvents,
    private readonly onRecovered: () => Promise<void>,
  ) {}

  get up(): boolean {
    return !this.down;
  }

  /** Notes a failed operation; true when it was an outage (the caller then fails open). */
  failed(error: unknown): boolean {
    if (!isOutage(error)) return false;
    if (!this.down && !this.closed) {
      this.down = true;
      this.events.unavailable(error as Error);
      this.schedule();
    }
    return true;
  }

  private schedule(): void {
    if (this.closed || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.probe().then(
        () => this.recovered(),
        () => this.schedule(),
      );
    }, this.probeIntervalMs);
    this.timer.unref?.();
  }

  private recovered(): void {
    if (!this.down || this.closed) return;
    this.onRecovered().then(
      () => {
        this.down = false;
        this.events.available();
      },
      () => this.schedule(),
    );
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
