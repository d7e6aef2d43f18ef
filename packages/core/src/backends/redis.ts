import type { Backend } from "../backend.js";
import { SessionStoreError } from "../errors.js";

// Placeholder until the Redis backend lands: fails loudly, never pretends.
export interface RedisBackendOptions {
  url?: string;
}

export function redisBackend(_options: RedisBackendOptions): Backend {
  throw new SessionStoreError("UNSUPPORTED", "the Redis backend is not implemented yet");
}
