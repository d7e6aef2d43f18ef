import { createWriteStream } from "node:fs";
import { unlink } from "node:fs/promises";
import { once } from "node:events";
import type { Writable } from "node:stream";
import type { SessionStore } from "@sessionbridge/core";
import { readStored, storedKeys, type ListedKey } from "@sessionbridge/core/tools";
import { watchInterrupts } from "../interrupt.js";
import { Interrupted, note, print, UsageError } from "../output.js";
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
  const counts: Counts = { exported: 0, sealed: 0, corrupt: 0 };
  const unlisted = { count: 0 };
  // To stdout, Ctrl-C ends the process at once, as usual: there is no file to remove.
  if (toStdout) await writeAll(store, process.stdout, flags, counts, unlisted);
  else await exportToFile(store, flags, counts, unlisted);
  const report = toStdout ? note : print;
  if (flags.json) report(JSON.stringify({ ...counts, unlisted: unlisted.count }));
  else report(`exported ${counts.exported} session(s)${counts.sealed > 0 ? ` (${counts.sealed} sealed: import them with the same encryption keys)` : ""}; skipped ${counts.corrupt} corrupt${unlisted.count > 0 ? `; ${unlisted.count} key(s) stored hashed by memcached's key limit could not be listed` : ""}`);
}

type Counts = { exported: number; sealed: number; corrupt: number };

/**
 * Into a file this run creates (never over an existing one), removed again when the export does not
 * finish — a failed listing or read, Ctrl-C or a TERM: a backup that stops half way would restore a
 * subset without saying so.
 */
async function exportToFile(store: SessionStore, flags: ExportFlags, counts: Counts, unlisted: { count: number }): Promise<void> {
  // Listening before the file exists: from then on a signal removes it (a second one ends the process).
  const interrupts = watchInterrupts();
  try {
    const out = createWriteStream(flags.file, { flags: "wx", mode: 0o600 });
    // once(…, "open") rejects with the stream's error: both ways end up here.
    await once(out, "open").then(() => [], (error: unknown) => [error]).then(([error]) => {
      if (error instanceof Error) throw new UsageError(`${flags.file}: cannot create it (${(error as NodeJS.ErrnoException).code === "EEXIST" ? "it exists: an export never overwrites a file" : ((error as NodeJS.ErrnoException).code ?? error.message)})`);
    });
    try {
      // Interrupted, the export stops at once: the reads in flight are abandoned (closing the store ends them).
      const interrupted = interrupts.arrived.then((signal) => Promise.reject(new Interrupted(signal, "before the export finished")));
      await Promise.race([writeAll(store, out, flags, counts, unlisted, interrupts.signal), interrupted]);
      out.end();
      await once(out, "finish");
    } catch (error) {
      out.on("error", () => undefined); // a write still pending fails with ERR_STREAM_DESTROYED: the file goes anyway
      out.destroy();
      await unlink(flags.file).catch(() => undefined);
      note(`${flags.file}: incomplete export (${error instanceof Interrupted ? "interrupted" : "the listing or a read failed"}) removed; run the export again`);
      throw error;
    }
  } finally {
    interrupts.dispose();
  }
}

/** The header, then every listed session, as JSON Lines on `out`; with `signal`, nothing more once it aborts. */
async function writeAll(store: SessionStore, out: Writable, flags: ExportFlags, counts: Counts, unlisted: { count: number }, signal?: AbortSignal): Promise<void> {
  // stdout's reader gone (EPIPE) or the disk full: the listing stops at the next write.
  let failed: Error | undefined;
  const onError = (error: Error) => {
    failed ??= error;
  };
  out.on("error", onError);
  const write = async (line: string) => {
    signal?.throwIfAborted(); // a read abandoned by Ctrl-C writes nothing more
    if (failed !== undefined) throw failed;
    if (!out.write(`${line}\n`)) await once(out, "drain");
  };
  const header: ExportHeader = { format: "sessionbridge-export", version: 1, prefix: store.options.prefix, exportedAt: new Date().toISOString() };
  const bar = progressBar("export", ["exported", "sealed", "corrupt"]);
  async function* keys(): AsyncIterable<ListedKey> {
    for await (const batch of storedKeys(store, unlisted)) yield* batch;
  }
  try {
    await write(JSON.stringify(header));
    await paced(keys(), { concurrency: flags.concurrency, signal }, async (listed) => {
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
    out.off("error", onError);
    bar.stop();
  }
}
