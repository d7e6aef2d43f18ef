import { readFile } from "node:fs/promises";
import { extname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { createSessionStore, type SessionStore, type SessionStoreOptions } from "@sessionbridge/core";
import { UsageError } from "./output.js";
import { addSecret, addUrlSecrets } from "./redact.js";

/** The options every command takes: where the store is, as an application configures it. */
export interface GlobalFlags {
  config?: string;
  url?: string;
  prefix?: string;
  timeoutMs?: string;
}

/**
 * Environment variables, read when the flag is not given (and over the config file):
 * SESSIONBRIDGE_CONFIG, SESSIONBRIDGE_URL, SESSIONBRIDGE_PREFIX, SESSIONBRIDGE_TIMEOUT_MS,
 * SESSIONBRIDGE_KEY_SECRET, SESSIONBRIDGE_ENCRYPTION_KEYS (`id:key` pairs, comma-separated, newest first).
 */
export const ENVIRONMENT = ["SESSIONBRIDGE_CONFIG", "SESSIONBRIDGE_URL", "SESSIONBRIDGE_PREFIX", "SESSIONBRIDGE_TIMEOUT_MS", "SESSIONBRIDGE_KEY_SECRET", "SESSIONBRIDGE_ENCRYPTION_KEYS"] as const;

/**
 * The store options from (strongest first) flags, environment variables and the config file
 * (`--config file.json` or `file.mjs` whose default export is the options object given to
 * createSessionStore: url or backend, prefix, keySecret, encryptionKeys, migrateFrom, userIdFrom, …).
 */
export async function loadOptions(flags: GlobalFlags, env: NodeJS.ProcessEnv = process.env): Promise<SessionStoreOptions> {
  const file = flags.config ?? env.SESSIONBRIDGE_CONFIG;
  const options: SessionStoreOptions = file === undefined ? ({} as SessionStoreOptions) : await readConfig(file);
  const url = flags.url ?? env.SESSIONBRIDGE_URL;
  if (url !== undefined) {
    options.url = url;
    delete options.backend;
  }
  const prefix = flags.prefix ?? env.SESSIONBRIDGE_PREFIX;
  if (prefix !== undefined) options.prefix = prefix;
  const timeout = flags.timeoutMs ?? env.SESSIONBRIDGE_TIMEOUT_MS;
  if (timeout !== undefined) options.timeoutMs = positive("--timeout-ms", timeout);
  if (env.SESSIONBRIDGE_KEY_SECRET !== undefined) options.keySecret = env.SESSIONBRIDGE_KEY_SECRET;
  if (env.SESSIONBRIDGE_ENCRYPTION_KEYS !== undefined) options.encryptionKeys = parseKeyring(env.SESSIONBRIDGE_ENCRYPTION_KEYS);
  if (options.url === undefined && options.backend === undefined) {
    throw new UsageError("no store given: pass --url redis://host:6379 (or memcached://…), set SESSIONBRIDGE_URL, or give --config file.json|file.mjs");
  }
  rememberSecrets(options);
  return options;
}

export function openStore(options: SessionStoreOptions): SessionStore {
  return createSessionStore(options);
}

export function positive(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`${flag} must be a positive number (got "${text.slice(0, 20)}")`);
  return value;
}

async function readConfig(file: string): Promise<SessionStoreOptions> {
  const path = resolve(file);
  const kind = extname(path);
  let value: unknown;
  if (kind === ".json") {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      throw new UsageError(`--config ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? "error"})`);
    }
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new UsageError(`--config ${file}: not valid JSON (${(error as Error).message})`);
    }
  } else if (kind === ".mjs" || kind === ".js" || kind === ".cjs") {
    try {
      const module = (await import(pathToFileURL(path).href)) as { default?: unknown };
      value = module.default;
    } catch (error) {
      throw new UsageError(`--config ${file}: cannot load it (${(error as Error).message.split("\n")[0]})`);
    }
  } else {
    throw new UsageError(`--config ${file}: use a .json file or a .mjs module whose default export is the store options`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new UsageError(`--config ${file}: expected an object of store options (url, prefix, keySecret, encryptionKeys, migrateFrom, …)`);
  return { ...(value as SessionStoreOptions) };
}

/** `id:key,id2:key2` (newest first), as SESSIONBRIDGE_ENCRYPTION_KEYS. */
function parseKeyring(text: string): Array<{ id: string; key: string }> {
  return text.split(",").map((pair, index) => {
    const colon = pair.indexOf(":");
    if (colon <= 0) throw new UsageError(`SESSIONBRIDGE_ENCRYPTION_KEYS: entry ${index + 1} must be id:key (the key as 64 hex digits or base64)`);
    return { id: pair.slice(0, colon).trim(), key: pair.slice(colon + 1).trim() };
  });
}

/** Every secret the options hold is masked in all output (see redact.ts). */
function rememberSecrets(options: SessionStoreOptions): void {
  const given = options as unknown as Record<string, unknown>;
  addUrlSecrets(given.url);
  for (const name of ["password", "sentinelPassword"]) addSecret(given[name]);
  const keySecret = given.keySecret;
  for (const secret of Array.isArray(keySecret) ? keySecret : [keySecret]) addSecret(secret);
  if (Array.isArray(given.encryptionKeys)) for (const entry of given.encryptionKeys) addSecret((entry as { key?: unknown } | null)?.key);
  const from = given.migrateFrom as Record<string, unknown> | undefined;
  if (from !== undefined && from !== null) {
    addUrlSecrets(from.url);
    if (Array.isArray(from.servers)) for (const server of from.servers) addUrlSecrets(server);
  }
}
