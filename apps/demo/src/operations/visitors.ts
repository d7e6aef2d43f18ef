/**
 * Simulated visitors for the operations page: a few browsers-without-a-browser that reload the home
 * page through the balancer, each keeping its own session cookie (so each reload is a session read and
 * a write), until switched off. Without traffic a paused Redis changes nothing in the metrics.
 */
export class SimulatedVisitors {
  private controller: AbortController | undefined;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly url: string,
    private readonly visitors = 3,
    private readonly pauseMs = 300,
  ) {}

  get running(): boolean {
    return this.controller !== undefined;
  }

  start(): void {
    if (this.controller !== undefined) return;
    const controller = new AbortController();
    this.controller = controller;
    this.loops = Array.from({ length: this.visitors }, () => this.visit(controller.signal));
  }

  async stop(): Promise<void> {
    this.controller?.abort();
    this.controller = undefined;
    await Promise.all(this.loops.splice(0));
  }

  private async visit(signal: AbortSignal): Promise<void> {
    let cookie = "";
    while (!signal.aborted) {
      try {
        const response = await fetch(this.url, { headers: cookie ? { cookie } : {}, redirect: "manual", signal });
        const set = response.headers.getSetCookie().find((line) => line.startsWith("sb.sid="));
        if (set !== undefined) cookie = set.split(";")[0] ?? "";
        await response.arrayBuffer();
      } catch {
        // aborted, or the demo is stopping: the loop condition decides
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.pauseMs);
        signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
  }
}
