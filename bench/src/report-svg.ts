import { WORKLOADS, type Role, type Workload } from "./matrix.js";
import type { HttpLine } from "./summary.js";

// Hand-written SVG: one column per workload, one bar per configuration, grouped by framework.
const COLORS: Record<Role, string> = {
  ours: "#2563eb",
  incumbent: "#ea580c",
  framework: "#9ca3af",
  "zero-cost": "#16a34a",
  baseline: "#d1d5db",
};
const ROLE_NAMES: Record<Role, string> = {
  ours: "sessionbridge",
  incumbent: "incumbent store",
  framework: "framework's own store",
  "zero-cost": "zero-cost Map (the limit)",
  baseline: "no session (baseline)",
};
const COLUMN_TITLES: Record<Workload, string> = { read: "read-mostly req/s", write: "write-heavy req/s", new: "new visitors req/s" };

const LABEL_WIDTH = 330;
const COLUMN_WIDTH = 230;
const BAR_HEIGHT = 16;
const ROW_GAP = 6;
const TOP = 78;

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export function svgChart(lines: HttpLine[], caption: string): string {
  const workloads = Object.keys(WORKLOADS) as Workload[];
  const configs: Array<{ rowId: string; framework: string; label: string; role: Role }> = [];
  for (const line of lines) if (!configs.some((c) => c.rowId === line.rowId)) configs.push(line);
  const max: Record<string, number> = {};
  // Scale to the stores, not to the no-session baseline, which would squeeze every store bar; a
  // baseline bar longer than the column is cut and marked "»".
  for (const workload of workloads) max[workload] = Math.max(1, ...lines.filter((l) => l.workload === workload && l.role !== "baseline").map((l) => l.rps || 0));

  const parts: string[] = [];
  let y = TOP;
  let framework = "";
  for (const config of configs) {
    if (config.framework !== framework) {
      framework = config.framework;
      y += 10;
      parts.push(`<text x="8" y="${y + 12}" class="group">${escape(framework)}</text>`);
      y += 20;
    }
    parts.push(`<text x="${LABEL_WIDTH - 8}" y="${y + 12}" class="label" text-anchor="end">${escape(config.label)}</text>`);
    workloads.forEach((workload, column) => {
      const x = LABEL_WIDTH + column * COLUMN_WIDTH;
      const line = lines.find((l) => l.rowId === config.rowId && l.workload === workload);
      if (!line) return;
      if (line.rounds === 0) {
        parts.push(`<text x="${x + 4}" y="${y + 12}" class="na">not run</text>`);
        return;
      }
      const full = COLUMN_WIDTH - 70;
      const scaled = Math.round((line.rps / (max[workload] as number)) * full);
      const width = Math.max(1, Math.min(scaled, full + 8));
      const flag = (scaled > full + 8 ? " »" : "") + (line.non2xx > 0 || line.errors > 0 ? " ⚠" : "");
      parts.push(`<rect x="${x}" y="${y}" width="${width}" height="${BAR_HEIGHT}" rx="2" fill="${COLORS[config.role]}"><title>${escape(`${config.framework} · ${config.label} · ${WORKLOADS[workload].title}: ${line.rps} req/s, p99 ${line.p99Ms} ms`)}</title></rect>`);
      parts.push(`<text x="${x + width + 4}" y="${y + 12}" class="value">${line.rps.toLocaleString("en-US")}${flag}</text>`);
    });
    y += BAR_HEIGHT + ROW_GAP;
  }
  const width = LABEL_WIDTH + workloads.length * COLUMN_WIDTH + 10;
  const height = y + 34;
  const headers = workloads.map((workload, column) => `<text x="${LABEL_WIDTH + column * COLUMN_WIDTH}" y="${TOP - 6}" class="head">${COLUMN_TITLES[workload]}</text>`);
  const legend = (Object.keys(COLORS) as Role[]).map((role, i) => {
    const x = 8 + i * 200;
    return `<rect x="${x}" y="34" width="12" height="12" fill="${COLORS[role]}"/><text x="${x + 17}" y="44" class="legend">${escape(ROLE_NAMES[role])}</text>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif">`,
    `<style>.title{font-size:16px;font-weight:600}.group{font-size:14px;font-weight:600;fill:#111827}.label{font-size:12px;fill:#1f2937}.value{font-size:11px;fill:#374151}.head{font-size:12px;font-weight:600;fill:#111827}.legend{font-size:11px;fill:#374151}.na{font-size:11px;fill:#9ca3af;font-style:italic}.foot{font-size:10px;fill:#6b7280}</style>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="8" y="22" class="title">sessionbridge vs incumbent session stores: requests per second (median of alternated rounds, higher is better)</text>`,
    ...legend,
    ...headers,
    ...parts,
    `<text x="8" y="${height - 12}" class="foot">${escape(caption)}</text>`,
    `</svg>`,
    "",
  ].join("\n");
}
