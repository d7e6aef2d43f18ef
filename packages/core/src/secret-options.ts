import { SessionStoreError } from "./errors.js";

/**
 * Options that carry a secret or a credential (`keySecret`, `encryptionKeys`, `password`, `username`,
 * `sentinelPassword`, `sentinelUsername`): present with the value `undefined` — typically
 * `keySecret: process.env.SESSION_KEY_SECRET` with the variable unset — they are refused at construction
 * instead of silently running without the protection. Leave the option out to run without it.
 */
export function refuseUndefinedSecrets(options: object, names: readonly string[]): void {
  for (const name of names) {
    if (Object.hasOwn(options, name) && (options as Record<string, unknown>)[name] === undefined) {
      throw new SessionStoreError("CONFIG", `option "${name}" is present but undefined (an unset environment variable?): give it a value, or leave the option out to run without it`);
    }
  }
}
