import { Redis, type RedisOptions } from "ioredis";
import { failFastOptions, MAX_RECONNECT_DELAY_MS, withErrorListener } from "./client.js";
import type { RedisEndpoint } from "./options.js";
import type { HighAvailabilityOptions, RedisAddress } from "./topology.js";

/**
 * Redis Sentinel: the client asks the sentinels where the master (or a replica) is, and reconnects there
 * after a failover. `failoverDetector` subscribes to the sentinels' +switch-master: without it a client
 * kept writing to the demoted master for ~11 s after a failover (writes that are then lost); with it,
 * it switched in about a second.
 */
export function createSentinelClient(
  sentinels: RedisAddress[],
  name: string,
  role: "master" | "slave",
  endpoint: RedisEndpoint,
  options: Pick<HighAvailabilityOptions, "sentinelUsername" | "sentinelPassword" | "sentinelTLS" | "enableTLSForSentinelMode">,
): Redis {
  const timeoutMs = 1000; // replaced by the store's deadline in configure (applyTimeout)
  const settings: RedisOptions = {
    ...failFastOptions(timeoutMs),
    sentinels: sentinels.map(({ host, port }) => ({ host, port })),
    name,
    role,
    db: endpoint.db,
    failoverDetector: true,
    // Asking the sentinels must also fit the deadline; after a round of unreachable sentinels, try again soon.
    sentinelCommandTimeout: timeoutMs,
    sentinelRetryStrategy: (attempt: number) => Math.min(20 * 2 ** Math.min(attempt, 10), MAX_RECONNECT_DELAY_MS),
    enableTLSForSentinelMode: options.enableTLSForSentinelMode ?? endpoint.tls !== undefined,
  };
  if (endpoint.username !== undefined) settings.username = endpoint.username;
  if (endpoint.password !== undefined) settings.password = endpoint.password;
  if (endpoint.tls !== undefined) settings.tls = { ...endpoint.tls };
  if (options.sentinelUsername !== undefined) settings.sentinelUsername = options.sentinelUsername;
  if (options.sentinelPassword !== undefined) settings.sentinelPassword = options.sentinelPassword;
  if (options.sentinelTLS !== undefined && options.sentinelTLS !== false) settings.sentinelTLS = options.sentinelTLS === true ? {} : { ...options.sentinelTLS };
  return withErrorListener(new Redis(settings));
}
