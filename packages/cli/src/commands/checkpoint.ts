import { readFile, rename, writeFile } from "node:fs/promises";
import { UsageError } from "../output.js";

/**
 * A migrate run's checkpoint file: the counts so far and whether the run finished. A move deletes the
 * incumbent's copy, so a new scan after an interruption meets only what is left; the file carries the
 * totals across runs (and says when a run already finished). Written atomically (temp file + rename).
 */
export interface Checkpoint {
  format: "sessionbridge-migrate-checkpoint";
  source: string;
  counts: Record<string, number>;
  finished: boolean;
  updatedAt: string;
}

export async function readCheckpoint(path: string, source: string): Promise<Checkpoint | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new UsageError(`--checkpoint ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
  let value: Partial<Checkpoint>;
  try {
    value = JSON.parse(text) as Partial<Checkpoint>;
  } catch {
    throw new UsageError(`--checkpoint ${path}: not a checkpoint file (delete it to start over)`);
  }
  if (value.format !== "sessionbridge-migrate-checkpoint" || typeof value.counts !== "object" || value.counts === null) throw new UsageError(`--checkpoint ${path}: not a checkpoint file (delete it to start over)`);
  if (value.source !== source) throw new UsageError(`--checkpoint ${path}: written for another source (${value.source}); use another file or delete it`);
  return value as Checkpoint;
}

export async function writeCheckpoint(path: string, checkpoint: Omit<Checkpoint, "format" | "updatedAt">): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify({ format: "sessionbridge-migrate-checkpoint", ...checkpoint, updatedAt: new Date().toISOString() }, null, 2)}\n`);
  await rename(temporary, path);
}
