/**
 * Notices a connection that stopped answering: commands are waiting and nothing (no reply, no error)
 * has come back for a whole deadline. ioredis clients we create do this with their socketTimeout; a
 * node-redis client given to us would otherwise keep queueing every request's command behind a hung
 * (SIGSTOPped, overloaded) server, each to run late when it wakes. Once hung, the backend sends nothing
 * more there until an answer arrives.
 */
export class HangWatch {
  private inflight = 0;
  private lastAnswerAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private hungNow = false;

  constructor(
    private timeoutMs: number,
    /** Called when the connection is found hung, and when it answers again. */
    private readonly onChange: (hung: boolean) => void,
  ) {}

  get hung(): boolean {
    return this.hungNow;
  }

  setTimeoutMs(timeoutMs: number): void {
    this.timeoutMs = timeoutMs;
  }

  /** Wraps one command's reply. */
  track<T>(reply: Promise<T>): Promise<T> {
    if (this.inflight++ === 0) this.lastAnswerAt = Date.now();
    if (this.timer === undefined) this.arm(this.timeoutMs);
    return reply.then(this.answeredWith as (value: T) => T, this.failedWith);
  }

  // Made once, not two closures per command.
  private readonly answeredWith = (value: unknown): unknown => {
    this.answered();
    return value;
  };

  private readonly failedWith = (error: unknown): never => {
    this.answered();
    throw error;
  };

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private answered(): void {
    this.inflight--;
    this.lastAnswerAt = Date.now();
    if (this.inflight > 0 && this.timer === undefined) this.arm(this.timeoutMs);
    if (this.hungNow) {
      this.hungNow = false;
      this.onChange(false);
    }
  }

  private arm(delayMs: number): void {
    this.timer = setTimeout(() => this.check(), delayMs);
    this.timer.unref?.();
  }

  private check(): void {
    this.timer = undefined;
    if (this.inflight === 0 || this.hungNow) return;
    const silentMs = Date.now() - this.lastAnswerAt;
    if (silentMs < this.timeoutMs) return this.arm(this.timeoutMs - silentMs);
    this.hungNow = true;
    this.onChange(true);
  }
}
