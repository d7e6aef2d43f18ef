import type { Backend } from "../backend.js";
import { SessionStoreError } from "../errors.js";
import type { SourceRead, MigrationSource, SourceSession } from "./source.js";

/** How one incumbent package stores a session: its default key prefix and how to read its value. */
export interface IncumbentFormat {
  readonly name: string;
  readonly defaultPrefix: string;
  /** The session in a parsed value; null when the value is not a session of this format. */
  toSession(value: unknown, now: number, fallbackTtlMs: number): SourceSession | null;
}

export interface IncumbentSourceSettings {
  format: IncumbentFormat;
  backend: Backend;
  /** True when the source created `backend` itself (from a URL) and so closes it. */
  ownsBackend: boolean;
  prefix: string;
  parse: (text: string) => unknown;
  keepSource: boolean;
  /** TTL for sessions whose value carries no expiry (a browser-session cookie): the store's `ttlMs`. */
  fallbackTtlMs: number;
  /** The store's own prefix when it shares the backend: its keys are left out of `ids()`. */
  skipPrefix: string | undefined;
}

/**
 * A migration source over an incumbent's keys (`prefix + id`) in its format, read with the same Backend
 * contract the store uses (one GET per read, one DEL per removal, SCAN to list). A backend stays
 * mechanics: the format is read here, beside the store.
 */
export function incumbentSource(settings: IncumbentSourceSettings): MigrationSource {
  const { format, backend, prefix, parse, keepSource, fallbackTtlMs, skipPrefix } = settings;
  return {
    label: `${format.name} on ${backend.label} (prefix "${prefix}")`,
    keepSource,
    async read(id: string): Promise<SourceRead> {
      const text = await backend.get(prefix + id);
      if (text === null) return "absent";
      let value: unknown;
      try {
        value = await parse(text);
      } catch {
        return "unreadable";
      }
      return format.toSession(value, Date.now(), fallbackTtlMs) ?? "unreadable";
    },
    async remove(id: string): Promise<boolean> {
      return (await backend.delete([prefix + id])) > 0;
    },
    async *ids(): AsyncIterable<string> {
      if (!backend.capabilities.scan) {
        throw new SessionStoreError("UNSUPPORTED", `${backend.label} cannot list keys, so the ${format.name} sessions cannot be listed; they move on their next read instead`, { backend: backend.label });
      }
      for await (const batch of backend.scan(prefix)) {
        for (const key of batch) if (skipPrefix === undefined || !key.startsWith(skipPrefix)) yield key.slice(prefix.length);
      }
    },
    async close(): Promise<void> {
      if (settings.ownsBackend) await backend.close();
    },
  };
}
