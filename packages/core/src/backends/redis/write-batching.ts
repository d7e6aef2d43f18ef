import type { Socket } from "node:net";
import { TurnCork } from "../turn-cork.js";

/**
 * Coalesces the commands one client sends during a turn of the event loop into one socket write, as
 * node-redis does: the socket is corked at the first command of the turn and uncorked in `setImmediate`,
 * after every I/O callback of that turn has run. Without it ioredis makes one write syscall per command,
 * the largest single cost of a session read in the client; Redis then also reads many commands per read.
 * Measured with raw ioredis GETs, 50 in flight on one connection: client CPU per command 9.8 → 6.4 µs,
 * 15-20 % more commands per second.
 *
 * A Cluster client routes each command to one of its nodes' connections: all of them are corked for
 * the turn, so each node gets one write.
 */
export class WriteBatching {
  private readonly turn = new TurnCork();

  /** Call right before a command is handed to the client. */
  beforeSend(client: object): void {
    if (this.turn.active) return;
    const nodes = (client as { nodes?: (role: "all") => Array<{ stream?: Socket }> }).nodes;
    this.turn.cork(typeof nodes === "function" ? nodes.call(client, "all").map((node) => node.stream) : [(client as { stream?: Socket }).stream]);
  }
}
