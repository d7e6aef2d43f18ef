import type { MigrateOutcome, SessionStore } from "@sessionbridge/core";
import { isSessionStoreError } from "@sessionbridge/core";
import { watchInterrupts } from "../interrupt.js";
import { Interrupted, note, print, UsageError } from "../output.js";
import { progressBar } from "../progress.js";
import { paced } from "../rate.js";
import { readCheckpoint, writeCheckpoint } from "./checkpoint.js";

export interface MigrateFlags {
  dryRun: boolean;
  /** Sessions per second at most. */
  rate?: number | undefined;
  concurrency: number;
  checkpoint?: string | undefined;
  json: boolean;
}

/** The summary's buckets: what `store.migrate(id)` answered, grouped as an operator reads them. */
const BUCKET: Record<MigrateOutcome, "moved" | "skipped" | "expired" | "corrupt"> = {
  moved: "moved",
  present: "skipped", // already in the store (moved before, or by a request meanwhile)
  absent: "skipped", // gone from the source between listing and moving (expired, logged out)
  gone: "skipped", // logged out during the move: stays logged out
  expired: "expired",
  unreadable: "corrupt",
};

const CHECKPOINT_EVERY = 500;

/**
 * `sessionbridge migrate`: moves every session of the `migrateFrom` source into the store, listing the
 * source with SCAN (never KEYS) or Memcached's metadump, through `store.migrate(id)` (the same move a
 * read does: create-only copy, release the source, a logout during the move sticks).
 */
export async function migrate(store: SessionStore, flags: MigrateFlags): Promise<boolean> {
  const source = store.migrateSource;
  if (source === undefined) throw new UsageError('migrate needs a source: pass --from connect-redis|koa-redis|connect-memjs|connect-memcached (with --from-url / --from-prefix when they differ), or "migrateFrom" in --config');
  const counts: Record<string, number> = { moved: 0, skipped: 0, expired: 0, corrupt: 0, failed: 0 };
  const previous = flags.checkpoint === undefined || flags.dryRun ? undefined : await readCheckpoint(flags.checkpoint, source.label);
  if (previous?.finished === true) {
    note(`checkpoint ${flags.checkpoint}: a run already finished; starting a new one (delete the file to reset the totals)`);
  } else if (previous !== undefined) {
    for (const name of Object.keys(counts)) counts[name] = (counts[name] ?? 0) + (previous.counts[name] ?? 0);
    note(`resuming from checkpoint ${flags.checkpoint}: ${Object.entries(previous.counts).map(([n, v]) => `${n} ${v}`).join(", ")} before; sessions moved then are no longer in the source`);
  }
  const bar = progressBar(flags.dryRun ? "dry run" : "migrate", ["moved", "skipped", "expired", "corrupt"]);
  if (process.stderr.isTTY === true) {
    let total = 0;
    for await (const _ of source.ids()) total++;
    bar.start(total);
  }
  let firstFailure: string | undefined;
  let sinceCheckpoint = 0;
  const save = async (finished: boolean) => {
    if (flags.checkpoint !== undefined && !flags.dryRun) await writeCheckpoint(flags.checkpoint, { source: source.label, counts, finished });
  };
  // Ctrl-C (or a TERM) starts no more moves, lets the ones in flight finish and saves exact totals, so
  // the next run's summary adds up; a second Ctrl-C ends the process at once.
  const interrupts = watchInterrupts();
  try {
    await paced(source.ids(), { concurrency: flags.concurrency, perSecond: flags.rate, signal: interrupts.signal }, async (id) => {
      let bucket: string;
      try {
        bucket = flags.dryRun ? await wouldMove(store, id) : BUCKET[await store.migrate(id)];
      } catch (error) {
        // A backend that is down stops the run (resume it later); one bad key does not.
        if (isSessionStoreError(error) && (error.code === "UNAVAILABLE" || error.code === "TIMEOUT" || error.code === "CLOSED")) throw error;
        firstFailure ??= error instanceof Error ? error.message : String(error);
        bucket = "failed";
      }
      counts[bucket] = (counts[bucket] ?? 0) + 1;
      bar.increment(counts);
      if (++sinceCheckpoint >= CHECKPOINT_EVERY) {
        sinceCheckpoint = 0;
        await save(false);
      }
    });
  } catch (error) {
    bar.stop();
    await save(false);
    if (flags.checkpoint !== undefined && !flags.dryRun) note(`interrupted; run the same command again to resume (checkpoint ${flags.checkpoint})`);
    throw error;
  } finally {
    interrupts.dispose();
  }
  const signal = interrupts.received;
  bar.stop();
  await save(signal === undefined);
  summarize(flags, { source: source.label, ...(signal === undefined ? {} : { interrupted: true }) }, counts);
  if (signal !== undefined) {
    const resume = flags.checkpoint !== undefined && !flags.dryRun ? `run the same command again to resume (checkpoint ${flags.checkpoint})` : "run it again to move what is left (give --checkpoint to carry the totals over)";
    throw new Interrupted(signal, `after the moves in flight finished; ${resume}`);
  }
  if (firstFailure !== undefined) note(`${counts.failed} session(s) could not be moved; the first: ${firstFailure}`);
  return counts.failed === 0;
}

function summarize(flags: MigrateFlags, about: Record<string, unknown>, counts: Record<string, number>): void {
  if (flags.json) print(JSON.stringify({ dryRun: flags.dryRun, ...about, ...counts }));
  else {
    print(`${flags.dryRun ? "dry run (nothing changed) — would move" : "moved"}: ${counts.moved}`);
    for (const name of ["skipped", "expired", "corrupt", "failed"]) print(`${name}: ${counts[name]}`);
  }
}

/** A dry run only reads the source: what a move would do, without writing or deleting anything. */
async function wouldMove(store: SessionStore, id: string): Promise<string> {
  const read = await (store.migrateSource as NonNullable<SessionStore["migrateSource"]>).read(id);
  if (read === "absent") return "skipped";
  if (read === "unreadable") return "corrupt";
  return read.expiresAtMs <= Date.now() ? "expired" : "moved";
}
