/**
 * "Pause Redis" on the operations page: SIGSTOP to the private redis-server the demo started (its
 * connections stay open and nothing answers: a hung server, the harder case), SIGCONT after `pauseMs`.
 * Only for that private server: the demo never signals a server it did not start.
 */
export class RedisPause {
  private timer: NodeJS.Timeout | undefined;
  /** Epoch ms when the current pause ends, undefined when not paused. */
  resumesAtMs: number | undefined;

  constructor(
    private readonly pid: number,
    readonly pauseMs: number,
  ) {}

  /** Pauses for `pauseMs`; false when already paused. */
  pause(): boolean {
    if (this.timer !== undefined) return false;
    process.kill(this.pid, "SIGSTOP");
    this.resumesAtMs = Date.now() + this.pauseMs;
    this.timer = setTimeout(() => this.resume(), this.pauseMs);
    return true;
  }

  /** Resumes now (also before the demo stops it: a stopped process would not handle SIGTERM). */
  resume(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.resumesAtMs = undefined;
    try {
      process.kill(this.pid, "SIGCONT");
    } catch {
      // already gone
    }
  }
}
