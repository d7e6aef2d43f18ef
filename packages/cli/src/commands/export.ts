import { createWriteStream } from "node:fs";
import { unlink } from "node:fs/promises";
import { once } from "node:events";
import type { Writable } from "node:stream";
import type { SessionStore } from "@sessionbridge/core";
import { readStored, storedKeys, type ListedKey } from "@sessionbridge/core/tools";
import { note, print, UsageError } from "../output.js";
import { progressBar } from "../progress.js";
import { paced } from "../rate.js";

/** The first line of an export file. */
export interface ExportHeader {
  format: "sessionbridge-export";
  version: 1;
  /** The store's prefix: a sealed session is bound to its full key, so import needs it to reseal under another prefix. */
  prefix: string;
  exportedAt: string;
}

export interface ExportFlags {
  file: string;
  decrypt: boolean;
  concurrency: number;
  json: boolean;
}

/**
 * `sessionbridge export [file]`: every session under the prefix as JSON Lines — a header, then one
 * `{ key, value, expiresAtMs }` per session, read without sliding its TTL. Values stay as stored (sealed
 * when the store encrypts) unless `--decrypt` and the keys are configured. Corrupt values are skipped
 * and counted. Writes to stdout with `-`; the summary goes to stderr then.
 */
export async function exportSessions(store: SessionStore, flags: ExportFlags): Promise<void> {
  const toStdout = flags.file === "-";
  const out: Writable = toStdout ? process.stdout : createWriteStream(flags.file, { flags: "wx", mode: 0o600 });
  if (!toStdout) {
    // once(…, "open") rejects with the stream's error: both ways end up here.
    await once(out, "open").then(() => [], (error: unknown) => [error]).then(([error]) => {
      if (error instanceof Error) throw new UsageError(`${flags.file}: cannot create it (${(error as NodeJS.ErrnoException).code === "EEXIST" ? "it exists: an export never overwrites a file" : ((error as NodeJS.ErrnoException).code ?? error.message)})`);
    });
  }
  const counts = { exported: 0, sealed: 0, corrupt: 0 };
  const unlisted = { count: 0 };
  try {
    await writeAll(store, out, flags, counts, unlisted);
  } catch (error) {
    if (!toStdout) {
      // The file was created by this run (wx): a backup that stops half way would restore a subset
      // without saying so, so it goes.
      out.destroy();
      await unlink(flags.file).catch(() => undefined);
      note(`${flags.file}: incomplete export (the listing or a read failed) removed; run the export again`);
    }
    throw error;
  }
  if (!toStdout) {
    out.end();
    await once(out, "finish");
  }
  const report = toStdout ? note : print;
  if (flags.json) report(JSON.stringify({ ...counts, unlisted: unlisted.count }));
  else report(`exported ${counts.exported} session(s)${counts.sealed > 0 ? ` (${counts.sealed} sealed: import them with the same encryption keys)` : ""}; skipped ${counts.corrupt} corrupt${unlisted.count > 0 ? `; ${unlisted.count} key(s) stored hashed by memcached's key limit could not be listed` : ""}`);
}

/** The header, then every listed session, as JSON Lines on `out`. */
async function writeAll(store: SessionStore, out: Writable, flags: ExportFlags, counts: { exported: number; sealed: number; corrupt: number }, unlisted: { count: number }): Promise<void> {
  const write = async (line: string) => {
    if (!out.write(`${line}\n`)) await once(out, "drain");
  };
  const header: ExportHeader = { format: "sessionbridge-export", version: 1, prefix: store.options.prefix, exportedAt: new Date().toISOString() };
  await write(JSON.stringify(header));
  const bar = progressBar("export", ["exported", "sealed", "corrupt"]);
  async function* keys(): AsyncIterable<ListedKey> {
    for await (const batch of storedKeys(store, unlisted)) yield* batch;
  }
  try {
    await paced(keys(), { concurrency: flags.concurrency }, async (listed) => {
      const read = await readStored(store, listed, { open: flags.decrypt });
      if (read === null) return; // expired or deleted since it was listed
      if (read.state === "corrupt") counts.corrupt++;
      else {
        if (read.state === "sealed" || /^sb1:[^:]*:e1\./.test(read.session.value)) counts.sealed++;
        counts.exported++;
        await write(JSON.stringify(read.session));
      }
      bar.increment(counts);
    });
  } finally {
    bar.stop();
  }
}
