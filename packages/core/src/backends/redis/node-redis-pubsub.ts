import type { SubscriberConnection } from "./client-commands.js";
import type { NodeRedisClient, NodeRedisKind } from "./node-redis.js";

interface Subscribable extends NodeRedisClient {
  isReady?: boolean;
  duplicate?(): Subscribable;
  connect(): Promise<unknown>;
  destroy(): unknown;
  subscribe(channels: string[], listener: (message: string, channel: string) => void): Promise<unknown>;
  unsubscribe(channels: string[], listener: (message: string, channel: string) => void): Promise<unknown>;
}

/**
 * SUBSCRIBE for a caller's node-redis client. A client or cluster gets a duplicate of its own (same
 * settings), which the backend connects and closes; a Sentinel client subscribes through its own pub/sub
 * connection (node-redis keeps one, following the master), and closing only unsubscribes our channels.
 */
export function nodeRedisSubscriber(client: NodeRedisClient, kind: NodeRedisKind): SubscriberConnection {
  const source = client as Subscribable;
  const own = kind !== "sentinel" && typeof source.duplicate === "function";
  const connection = own ? (source.duplicate as () => Subscribable).call(source) : source;
  const messageListeners: Array<(channel: string, message: string) => void> = [];
  const readyListeners: Array<() => void> = [];
  const subscribed = new Set<string>();
  const deliver = (message: string, channel: string) => {
    for (const listener of messageListeners) listener(channel, message);
  };
  const isReady = () => (kind === "cluster" ? connection.isOpen : connection.isReady === true);
  if (own) {
    connection.on("error", () => undefined); // trouble surfaces through the main connection's events
    connection.on(kind === "cluster" ? "connect" : "ready", () => {
      for (const listener of readyListeners) listener();
    });
    connection.connect().catch(() => undefined);
  }
  return {
    onReady: (listener) => void readyListeners.push(listener),
    onMessage: (listener) => void messageListeners.push(listener),
    get ready() {
      return isReady();
    },
    subscribe: async (channels) => {
      for (const channel of channels) subscribed.add(channel);
      await connection.subscribe([...channels], deliver);
    },
    unsubscribe: async (channels) => {
      for (const channel of channels) subscribed.delete(channel);
      await connection.unsubscribe([...channels], deliver);
    },
    close: () => {
      if (own) connection.destroy();
      else if (subscribed.size > 0) connection.unsubscribe([...subscribed], deliver).catch(() => undefined);
    },
  };
}
