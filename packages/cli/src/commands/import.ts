import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { SessionStore } from "@sessionbridge/core";
import { writeStored, type StoredSession, type WriteStoredOutcome } from "@sessionbridge/core/tools";
import { note, print, UsageError } from "../output.js";
import { progressBar } from "../progress.js";
import type { ExportHeader } from "./export.js";

export interface ImportFlags {
  file: string;
  overwrite: boolean;
  json: boolean;
}

/**
 * `sessionbridge import [file]`: writes the sessions of an export file into the store (any backend,
 * any prefix), each expiring when it did in the source; sessions past their expiry are skipped. Never
 * overwrites a stored session unless `--overwrite`. A line that is not an exported session stops the
 * import with its line number (what came before it is imported).
 */
export async function importSessions(store: SessionStore, flags: ImportFlags): Promise<boolean> {
  const input = flags.file === "-" ? process.stdin : createReadStream(flags.file);
  const failedOpen = new Promise<never>((_, reject) => input.once("error", (error: NodeJS.ErrnoException) => reject(new UsageError(`${flags.file}: cannot read it (${error.code ?? error.message})`))));
  failedOpen.catch(() => undefined);
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  const counts: Record<WriteStoredOutcome, number> = { written: 0, exists: 0, expired: 0, sealed: 0, corrupt: 0 };
  const bar = progressBar("import", ["written", "exists", "expired"]);
  let header: ExportHeader | undefined;
  let number = 0;
  const iterate = async () => {
    for await (const line of lines) {
      number++;
      if (line.trim() === "") continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw new UsageError(`${flags.file} line ${number}: not JSON`);
      }
      if (header === undefined) {
        header = checkHeader(value, flags.file);
        continue;
      }
      const outcome = await writeStored(store, checkSession(value, flags.file, number), { sourcePrefix: header.prefix, overwrite: flags.overwrite });
      counts[outcome]++;
      bar.increment(counts);
    }
  };
  try {
    await Promise.race([iterate(), failedOpen]);
  } finally {
    bar.stop();
  }
  if (header === undefined) throw new UsageError(`${flags.file}: empty — expected a file written by "sessionbridge export"`);
  if (flags.json) print(JSON.stringify({ imported: counts.written, ...counts }));
  else print(`imported ${counts.written} session(s); already present ${counts.exists}${flags.overwrite ? "" : " (kept; --overwrite replaces them)"}; expired ${counts.expired}; sealed for another key ${counts.sealed}; corrupt ${counts.corrupt}`);
  if (counts.sealed > 0) note(`${counts.sealed} session(s) are encrypted for their old key (another prefix): configure the same encryption keys (SESSIONBRIDGE_ENCRYPTION_KEYS or --config) so they can be sealed again`);
  return counts.sealed === 0 && counts.corrupt === 0;
}

function checkHeader(value: unknown, file: string): ExportHeader {
  const header = value as Partial<ExportHeader> | null;
  if (header === null || typeof header !== "object" || header.format !== "sessionbridge-export" || typeof header.prefix !== "string") {
    throw new UsageError(`${file} line 1: not a file written by "sessionbridge export"`);
  }
  if (header.version !== 1) throw new UsageError(`${file}: export format version ${String(header.version)} is not supported by this version (1)`);
  return header as ExportHeader;
}

function checkSession(value: unknown, file: string, line: number): StoredSession {
  const entry = value as Partial<StoredSession> | null;
  if (entry === null || typeof entry !== "object" || typeof entry.key !== "string" || entry.key.length === 0 || typeof entry.value !== "string" || !(entry.expiresAtMs === null || (typeof entry.expiresAtMs === "number" && Number.isFinite(entry.expiresAtMs)))) {
    throw new UsageError(`${file} line ${line}: expected { "key", "value", "expiresAtMs" } as written by "sessionbridge export"`);
  }
  return { key: entry.key, value: entry.value, expiresAtMs: entry.expiresAtMs };
}
