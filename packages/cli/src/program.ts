import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import type { SessionStoreOptions } from "@sessionbridge/core";
import { loadOptions, openStore, type GlobalFlags } from "./config.js";
import { count } from "./commands/count.js";
import { exportSessions } from "./commands/export.js";
import { importSessions } from "./commands/import.js";
import { migrate } from "./commands/migrate.js";
import { ping } from "./commands/ping.js";
import { revoke, sessions } from "./commands/users.js";
import { describeFailure, EXIT_FAILED, EXIT_OK, EXIT_OUTPUT_CLOSED, EXIT_USAGE, note, outputClosed } from "./output.js";
import { redact } from "./redact.js";

const FORMATS = ["connect-redis", "koa-redis", "connect-memjs", "connect-memcached"];

const number = (flag: string) => (text: string) => {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError(`${flag} must be a positive number`);
  return value;
};

/** Runs the command line; resolves the exit code. Never throws. */
export async function main(argv: readonly string[]): Promise<number> {
  let code = EXIT_OK;
  const program = new Command("sessionbridge")
    .description("Operate sessionbridge session stores: migrate from connect-redis / koa-redis / connect-memjs / connect-memcached, export and import, count, list and revoke a user's sessions, ping.")
    .option("-c, --config <file>", "store options: a .json file or a .mjs module whose default export is the options of createSessionStore (env SESSIONBRIDGE_CONFIG)")
    .option("-u, --url <url>", "redis://, rediss://, memcached:// URL of the store (env SESSIONBRIDGE_URL)")
    .option("-p, --prefix <prefix>", "the store's key prefix (env SESSIONBRIDGE_PREFIX; default sess:)")
    .option("--timeout-ms <ms>", "deadline of each operation in milliseconds (env SESSIONBRIDGE_TIMEOUT_MS)")
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nSecrets: SESSIONBRIDGE_KEY_SECRET, SESSIONBRIDGE_ENCRYPTION_KEYS (id:key,… newest first), or the config file. Passwords are never printed.\nExit codes: 0 done, 1 failed (backend down, sessions not moved), 2 bad input, 130 (143) stopped by Ctrl-C (TERM), 141 stdout closed by its reader (| head).")
    .showHelpAfterError("(run sessionbridge --help for usage)")
    .exitOverride()
    .configureOutput({ writeOut: (text) => process.stdout.write(redact(text)), writeErr: (text) => process.stderr.write(redact(text)) });

  const globals = (): GlobalFlags & { json?: boolean } => program.opts();
  /** Opens the store for one command, runs it, closes the store. */
  const withStore = async (work: (store: ReturnType<typeof openStore>) => Promise<boolean | void>, extra?: (options: SessionStoreOptions) => void) => {
    const options = await loadOptions(globals());
    extra?.(options);
    const store = openStore(options);
    try {
      if ((await work(store)) === false) code = EXIT_FAILED;
    } finally {
      await store.close();
    }
  };

  program
    .command("ping")
    .description("checks the backend and measures a round trip; for Memcached every node's state")
    .action(async () => {
      const options = await loadOptions(globals());
      if (!(await ping(options, globals().json === true))) code = EXIT_FAILED;
    });

  program
    .command("count")
    .description("counts the sessions under the prefix (SCAN on Redis; lru_crawler metadump on Memcached where allowed)")
    .action(() => withStore((store) => count(store)));

  program
    .command("sessions")
    .description("lists a user's live sessions from the per-user index (needs userIdFrom in the app; Redis or memory)")
    .argument("<user>", "the user id")
    .action((user: string) => withStore((store) => sessions(store, user, globals().json === true)));

  program
    .command("revoke")
    .description("logs a user out everywhere: destroys every session of the user")
    .argument("<user>", "the user id")
    .option("--except <id...>", "session id(s) to keep (e.g. the one the user is using)")
    .action((user: string, flags: { except?: string[] }) => withStore((store) => revoke(store, user, flags.except ?? [], globals().json === true)));

  program
    .command("migrate")
    .description("moves every session of the incumbent (migrateFrom) into the store, listed with SCAN (never KEYS)")
    .addOption(new Option("--from <format>", "the incumbent's format (or migrateFrom in --config)").choices(FORMATS))
    .option("--from-prefix <prefix>", "the incumbent's key prefix (default: its own, e.g. sess: for connect-redis)")
    .option("--from-url <url>", "where the incumbent's keys live, when not on the store's server")
    .option("--keep-source", "leave each incumbent copy in place (old instances still read it; it expires by its TTL)")
    .option("--dry-run", "only read: report what would move, change nothing")
    .option("--rate <n>", "sessions per second at most, to spare production traffic", number("--rate"))
    .option("--concurrency <n>", "moves in flight at once", number("--concurrency"), 4)
    .option("--checkpoint <file>", "keep the totals in this file and resume from it after an interruption")
    .action((flags: { from?: string; fromPrefix?: string; fromUrl?: string; keepSource?: boolean; dryRun?: boolean; rate?: number; concurrency: number; checkpoint?: string }) =>
      withStore(
        (store) => migrate(store, { dryRun: flags.dryRun === true, rate: flags.rate, concurrency: Math.floor(flags.concurrency), checkpoint: flags.checkpoint, json: globals().json === true }),
        (options) => {
          if (flags.from === undefined) {
            if (flags.fromPrefix !== undefined || flags.fromUrl !== undefined || flags.keepSource !== undefined) {
              if (options.migrateFrom === undefined || !("format" in options.migrateFrom)) throw new InvalidArgumentError("--from-prefix, --from-url and --keep-source go with --from <format>");
              options.migrateFrom = { ...options.migrateFrom, ...(flags.fromPrefix !== undefined ? { prefix: flags.fromPrefix } : {}), ...(flags.fromUrl !== undefined ? { url: flags.fromUrl } : {}), ...(flags.keepSource ? { keepSource: true } : {}) };
            }
            return;
          }
          options.migrateFrom = { format: flags.from as "connect-redis", ...(flags.fromPrefix !== undefined ? { prefix: flags.fromPrefix } : {}), ...(flags.fromUrl !== undefined ? { url: flags.fromUrl } : {}), ...(flags.keepSource ? { keepSource: true } : {}) };
        },
      ),
    );

  program
    .command("export")
    .description("writes every session to a JSON Lines file (sealed sessions stay sealed), with each one's expiry")
    .argument("[file]", "the file to create (- for stdout)", "-")
    .option("--decrypt", "write session bodies in clear text (needs the encryption keys): handle the file as a secret")
    .option("--concurrency <n>", "reads in flight at once", number("--concurrency"), 8)
    .action((file: string, flags: { decrypt?: boolean; concurrency: number }) => withStore((store) => exportSessions(store, { file, decrypt: flags.decrypt === true, concurrency: Math.floor(flags.concurrency), json: globals().json === true })));

  program
    .command("import")
    .description("writes the sessions of an export file into the store, each expiring when it did")
    .argument("[file]", "the export file (- for stdin)", "-")
    .option("--overwrite", "replace sessions the store already has")
    .action((file: string, flags: { overwrite?: boolean }) => withStore((store) => importSessions(store, { file, overwrite: flags.overwrite === true, json: globals().json === true })));

  let failure: { error: unknown } | undefined;
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (error) {
    failure = { error };
  }
  // An EPIPE on stdout arrives as an event after the write that met it: let it come before deciding.
  await new Promise((resolve) => setImmediate(resolve));
  if (outputClosed()) return EXIT_OUTPUT_CLOSED;
  if (failure === undefined) return code;
  const { error } = failure;
  if (error instanceof CommanderError) {
    // --help and --version end here too, with exit code 0; commander already printed the message.
    return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }
  const described = describeFailure(error);
  note(`sessionbridge: ${described.message}`);
  return error instanceof InvalidArgumentError ? EXIT_USAGE : described.code;
}
