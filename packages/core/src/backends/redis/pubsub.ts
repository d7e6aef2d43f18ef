import type { SubscriptionListener } from "../../backend.js";
import type { SubscriberConnection } from "./client-commands.js";
import type { RedisConnection } from "./connection.js";

/** True when the client behind the connection can publish and subscribe. */
export function hasPubSub(connection: RedisConnection): boolean {
  return connection.commands.publish !== undefined && connection.commands.subscriber !== undefined;
}

/** PUBLISH on the backend's connection, under the operation deadline like every command. */
export function publish(connection: RedisConnection, channel: string, message: string): Promise<void> {
  return connection.run("publish", (commands) => (commands.publish as (channel: string, message: string) => Promise<void>)(channel, message));
}

export interface Subscriber {
  subscribe(channel: string, listener: SubscriptionListener): () => void;
  close(): void;
}

/**
 * Subscriptions on a connection of their own (client-commands.ts), made on the first `subscribe`. On a
 * Cluster, PUBLISH on any node reaches subscribers on every node. After a reconnect the channels are
 * subscribed again and every listener is told `reset`: messages published while it was away are lost.
 */
export function createSubscriber(connection: RedisConnection): Subscriber {
  const channels = new Map<string, Set<SubscriptionListener>>();
  let client: SubscriberConnection | undefined;
  let readyBefore = false;
  let closed = false;

  const open = (): SubscriberConnection => {
    const opened = (connection.commands.subscriber as () => SubscriberConnection)();
    opened.onMessage((channel, message) => {
      const listeners = channels.get(channel);
      if (listeners !== undefined) for (const listener of [...listeners]) listener.message(message);
    });
    opened.onReady(() => {
      if (channels.size > 0) opened.subscribe([...channels.keys()]).catch(() => undefined);
      if (readyBefore) for (const listeners of channels.values()) for (const listener of listeners) listener.reset();
      readyBefore = true;
    });
    return opened;
  };

  return {
    subscribe(channel, listener) {
      if (closed) return () => undefined;
      client ??= open();
      let listeners = channels.get(channel);
      if (listeners === undefined) {
        channels.set(channel, (listeners = new Set()));
        if (client.ready) client.subscribe([channel]).catch(() => undefined);
      }
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
        if (listeners.size > 0 || channels.get(channel) !== listeners) return;
        channels.delete(channel);
        if (client?.ready) client.unsubscribe([channel]).catch(() => undefined);
      };
    },
    close() {
      closed = true;
      channels.clear();
      client?.close();
    },
  };
}
