import type { Socket } from "node:net";

/**
 * Holds sockets corked until the end of the current turn of the event loop (uncorked in `setImmediate`,
 * after every I/O callback of the turn has run), so the requests written to them meanwhile leave in one
 * write each instead of one system call per request. Used by the Redis and Memcached backends.
 */
export class TurnCork {
  private corked: Socket[] = [];
  private readonly flush = (): void => {
    const sockets = this.corked;
    this.corked = [];
    for (const socket of sockets) socket.uncork();
  };

  /** True while sockets are corked for this turn. */
  get active(): boolean {
    return this.corked.length > 0;
  }

  /** Corks the usable sockets among these until the end of this turn. */
  cork(sockets: Iterable<Socket | undefined>): void {
    for (const socket of sockets) {
      if (socket === undefined || typeof socket.cork !== "function" || socket.destroyed) continue;
      socket.cork();
      this.corked.push(socket);
    }
    if (this.corked.length > 0) setImmediate(this.flush);
  }
}
