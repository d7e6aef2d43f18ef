import type { Backend } from "../backend.js";
import { SessionStoreError } from "../errors.js";

// Placeholder until the Memcached backend lands (issue 4): fails loudly, never pretends.
export interface MemcachedBackendOptions {
  url?: string;
}

export function memcachedBackend(_options: MemcachedBackendOptions): Backend {
  throw new SessionStoreError("UNSUPPORTED", "the Memcached backend is not implemented yet");
}
