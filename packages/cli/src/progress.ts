import cliProgress from "cli-progress";

/** A progress bar on stderr, shown only when stderr is a terminal (never in logs or pipes). */
export interface Progress {
  start(total: number): void;
  increment(counts: Record<string, number>): void;
  stop(): void;
}

export function progressBar(label: string, fields: readonly string[]): Progress {
  if (process.stderr.isTTY !== true) return { start() {}, increment() {}, stop() {} };
  const format = `${label} [{bar}] {value}/{total} ${fields.map((name) => `${name} {${name}}`).join(" · ")}`;
  const bar = new cliProgress.SingleBar({ format, stream: process.stderr, hideCursor: true, etaBuffer: 200 }, cliProgress.Presets.shades_classic);
  let active = false;
  return {
    start(total) {
      active = true;
      bar.start(total, 0, Object.fromEntries(fields.map((name) => [name, 0])));
    },
    increment(counts) {
      if (!active) return;
      if (bar.getProgress() >= 1) bar.setTotal(bar.getTotal() + 1); // more than counted up front (new keys)
      bar.increment(1, counts);
    },
    stop() {
      if (active) bar.stop();
      active = false;
    },
  };
}
