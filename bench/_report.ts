/**
 * From per-round samples to results: medians, per-round ratios of ours to
 * the peer, per-worker shares, the Markdown table and the SVG chart. Pure
 * functions, so that `bench/report_test.ts` can check them on fixed input.
 *
 * @module
 */

/** Whose number it is: ours, the peer we compare with, or a reference. */
export type Role = "ours" | "peer" | "reference";

/** What a row measures. */
export interface RowSpec {
  /** Short name, for `BENCH_ROWS`. */
  id: string;
  title: string;
  unit: string;
  /** For memory: ours below the peer is the good direction. */
  lowerIsBetter?: boolean;
  /** Least acceptable ours/peer ratio, where there is one; the most, when `lowerIsBetter`. */
  target?: number;
  note?: string;
}

/**
 * Who runs in a row. `group` (the runtime and setting) pairs ours with the
 * peer it is compared with; `label` and `group` together name a candidate.
 */
export interface CandidateSpec {
  label: string;
  group: string;
  role: Role;
  /**
   * Ours only: the label of its peer, where the group has more than one
   * (the same program on the runtime's own objects); else the group's first.
   */
  peer?: string;
  /** Why it cannot run here; absent when it can. */
  unavailable?: string;
}

/** One measurement of one candidate. */
export interface Sample {
  value: number;
  /** Requests each worker served, for multi-worker candidates. */
  workers?: number[];
  /** Share of what was sent that never arrived (datagram rows), 0 to 1. */
  loss?: number;
}

/** A candidate's samples, one per round. */
export interface CandidateResult extends CandidateSpec {
  samples: number[];
  median: number | null;
  /** Per round, requests per worker. */
  workers?: number[][];
  /** Each worker's share of all requests over all rounds (sums to 1). */
  shares?: number[];
  /** Per round, the share of datagrams lost (datagram rows). */
  losses?: number[];
  /** The median of `losses`. */
  loss?: number;
}

/** Ours against the peer of its group. */
export interface Comparison {
  group: string;
  ours: string;
  peer: string;
  /** ours / peer, round by round (both ran in the same round). */
  ratios: number[];
  /** The headline: median of the per-round ratios. */
  ratio: number;
  ratioOfMedians: number;
  target?: number;
  met?: boolean;
}

/** A row's results. */
export interface RowResult extends RowSpec {
  candidates: CandidateResult[];
  comparisons: Comparison[];
}

/** Median; the mean of the middle two for an even count. */
export function median(values: number[]): number {
  if (values.length === 0) throw new RangeError("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function round(value: number, digits = 3): number {
  return Number(value.toFixed(digits));
}

function shares(workers: number[][]): number[] | undefined {
  if (workers.length === 0) return undefined;
  const totals = workers[0].map((_, i) =>
    workers.reduce((sum, round) => sum + (round[i] ?? 0), 0)
  );
  const all = totals.reduce((a, b) => a + b, 0);
  return totals.map((t) => round(all ? t / all : 0));
}

/**
 * Results of a row from its candidates' samples. Candidates that ran have
 * one sample per round, in round order; a comparison pairs each `ours` with
 * the `peer` of its group (the one it names, if it names one), round by
 * round.
 */
export function summarize(
  row: RowSpec,
  runs: { spec: CandidateSpec; samples: Sample[] }[],
): RowResult {
  const candidates = runs.map(({ spec, samples }): CandidateResult => {
    const values = samples.map((s) => s.value);
    const result: CandidateResult = {
      label: spec.label,
      group: spec.group,
      role: spec.role,
      ...(spec.peer ? { peer: spec.peer } : {}),
      ...(spec.unavailable ? { unavailable: spec.unavailable } : {}),
      samples: values,
      median: values.length ? median(values) : null,
    };
    const workers = samples.flatMap((s) => s.workers ? [s.workers] : []);
    if (workers.length) {
      result.workers = workers;
      result.shares = shares(workers);
    }
    const losses = samples.flatMap((s) => s.loss === undefined ? [] : [s.loss]);
    if (losses.length) {
      result.losses = losses.map((l) => round(l));
      result.loss = round(median(losses));
    }
    return result;
  });
  const comparisons: Comparison[] = [];
  for (const ours of candidates) {
    if (ours.role !== "ours" || ours.median === null) continue;
    const peer = candidates.find((c) =>
      c.role === "peer" && c.group === ours.group && c.median !== null &&
      (ours.peer === undefined || c.label === ours.peer)
    );
    if (!peer) continue;
    const rounds = Math.min(ours.samples.length, peer.samples.length);
    const ratios = ours.samples.slice(0, rounds).map((v, i) =>
      v / peer.samples[i]
    );
    const ratio = median(ratios);
    comparisons.push({
      group: ours.group,
      ours: ours.label,
      peer: peer.label,
      ratios: ratios.map((r) => round(r)),
      ratio: round(ratio),
      ratioOfMedians: round(ours.median / peer.median!),
      ...(row.target === undefined ? {} : {
        target: row.target,
        met: row.lowerIsBetter ? ratio <= row.target : ratio >= row.target,
      }),
    });
  }
  return { ...row, candidates, comparisons };
}

/** A number as the table shows it: grouped thousands, few decimals. */
export function formatValue(value: number): string {
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function percentages(shares: number[] | undefined): string {
  return shares?.map((s) => `${Math.round(s * 100)}`).join("/") ?? "?";
}

function percent(share: number | undefined): string {
  return share === undefined ? "?" : `${(share * 100).toFixed(1)} %`;
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|");
}

/**
 * One table line per comparison, reference and candidate that did not run;
 * the rows' notes follow as a list.
 */
export function markdownTable(rows: RowResult[]): string {
  const lines = [
    "| benchmark | on | ours | median | peer | median | ours ÷ peer | target | notes |",
    "| --- | --- | --- | --: | --- | --: | --: | --- | --- |",
  ];
  for (const row of rows) {
    let title = `**${row.title}** (${row.unit}${
      row.lowerIsBetter ? ", lower is better" : ""
    })`;
    const line = (cells: string[]) => {
      lines.push(`| ${[title, ...cells].map(cell).join(" | ")} |`);
      title = "";
    };
    const find = (label: string, group: string) =>
      row.candidates.find((c) => c.label === label && c.group === group)!;
    for (const c of row.comparisons) {
      const ours = find(c.ours, c.group);
      const peer = find(c.peer, c.group);
      const notes = ours.shares || peer.shares
        ? `per worker: ${percentages(ours.shares)} % vs ${
          percentages(peer.shares)
        } %`
        : ours.loss !== undefined || peer.loss !== undefined
        ? `lost: ${percent(ours.loss)} vs ${percent(peer.loss)}`
        : "";
      line([
        c.group,
        c.ours,
        formatValue(ours.median!),
        c.peer,
        formatValue(peer.median!),
        c.ratio.toFixed(2),
        c.target === undefined
          ? ""
          : row.lowerIsBetter
          ? `≤ ${c.target} ${c.met ? "✓" : "✗ above"}`
          : `≥ ${c.target} ${c.met ? "✓" : "✗ below"}`,
        notes,
      ]);
    }
    for (const c of row.candidates) {
      if (c.role === "reference" && c.median !== null) {
        line([
          c.group,
          "",
          "",
          c.label,
          formatValue(c.median),
          "",
          "",
          c.loss === undefined
            ? "reference"
            : `reference; lost: ${percent(c.loss)}`,
        ]);
      }
    }
    for (const c of row.candidates) {
      if (!c.unavailable) continue;
      const who = c.role === "ours" ? [c.label, "not run", "", ""] : [
        "",
        "",
        c.label,
        "not run",
      ];
      line([c.group, ...who, "", "", c.unavailable]);
    }
  }
  const notes = rows.filter((r) => r.note).map((r) =>
    `- **${r.title}**: ${r.note}`
  );
  return [...lines, ...(notes.length ? ["", ...notes] : [])].join("\n") +
    "\n";
}

// The chart, written by hand: one group of bars per row, each candidate's
// median, ours beside the peer, scaled to the row's largest median (rows
// have different units).

const WIDTH = 860;
const LABEL_X = 16;
const BAR_X = 290;
const BAR_MAX = 380;
const BAR_HEIGHT = 16;
const LINE = 22;
const COLORS: Record<Role, string> = {
  ours: "#2f6fdf",
  peer: "#9aa0a6",
  reference: "#e0a030",
};

function escape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

function text(
  x: number,
  y: number,
  content: string,
  attrs = "",
): string {
  return `<text x="${x}" y="${y}"${attrs}>${escape(content)}</text>`;
}

/** Order within a row: by group as first seen, ours before the peer, references last. */
function ordered(row: RowResult): RowResult["candidates"] {
  const groups = [...new Set(row.candidates.map((c) => c.group))];
  const rank = { ours: 0, peer: 1, reference: 2 };
  return row.candidates.filter((c) => c.median !== null).sort((a, b) =>
    (a.role === "reference" ? 1 : 0) - (b.role === "reference" ? 1 : 0) ||
    groups.indexOf(a.group) - groups.indexOf(b.group) ||
    rank[a.role] - rank[b.role]
  );
}

/** The chart, headed by `caption` and then the lines of `about`. */
export function svgChart(
  rows: RowResult[],
  caption: string,
  about: string[],
): string {
  const parts: string[] = [];
  let y = 28;
  parts.push(text(LABEL_X, y, caption, ' class="caption"'));
  for (const line of about) {
    y += 17;
    parts.push(text(LABEL_X, y, line, ' class="muted"'));
  }
  y += 24;
  let x = LABEL_X;
  for (const role of ["ours", "peer", "reference"] as Role[]) {
    parts.push(
      `<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${
        COLORS[role]
      }"/>`,
      text(x + 18, y, role),
    );
    x += 110;
  }
  parts.push(
    `<line x1="${x}" y1="${y - 11}" x2="${x}" y2="${y + 3}" class="target"/>`,
    text(
      x + 8,
      y,
      "target: the least ours may be (the most, for memory), as a share of the peer",
    ),
  );
  y += 16;

  for (const row of rows) {
    y += 26;
    parts.push(
      text(
        LABEL_X,
        y,
        `${row.title} (${row.unit}${
          row.lowerIsBetter ? ", lower is better" : ""
        })`,
        ' class="row"',
      ),
    );
    y += 8;
    const bars = ordered(row);
    const max = Math.max(...bars.map((c) => c.median!), 0);
    const scale = (v: number) => max > 0 ? (v / max) * BAR_MAX : 0;
    for (const c of bars) {
      const top = y;
      const width = scale(c.median!);
      parts.push(
        text(LABEL_X, top + 12, `${c.label} (${c.group})`),
        `<rect class="bar" x="${BAR_X}" y="${top}" width="${
          width.toFixed(1)
        }" height="${BAR_HEIGHT}" fill="${COLORS[c.role]}"/>`,
      );
      const comparison = row.comparisons.find((k) =>
        k.ours === c.label && k.group === c.group
      );
      let value = `${formatValue(c.median!)} ${row.unit}`;
      if (comparison) value += `, ${comparison.ratio.toFixed(2)}× peer`;
      const peer = comparison &&
        row.candidates.find((p) =>
          p.label === comparison.peer && p.group === comparison.group
        );
      let end = BAR_X + width;
      if (comparison?.target !== undefined && peer?.median != null) {
        const tx = BAR_X + scale(peer.median * comparison.target);
        parts.push(
          `<line x1="${tx.toFixed(1)}" y1="${top - 3}" x2="${
            tx.toFixed(1)
          }" y2="${top + BAR_HEIGHT + 3}" class="target"/>`,
        );
        end = Math.max(end, tx);
      }
      parts.push(text(end + 6, top + 12, value, ' class="value"'));
      y += LINE;
    }
    for (const c of row.candidates.filter((c) => c.unavailable)) {
      parts.push(
        text(
          LABEL_X,
          y + 12,
          `${c.label} (${c.group}): not run: ${c.unavailable}`,
          ' class="muted"',
        ),
      );
      y += LINE;
    }
  }
  const height = y + 16;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">
<style>
  text { fill: #24292f; }
  .caption { font-size: 15px; font-weight: 600; }
  .row { font-weight: 600; }
  .muted { fill: #6e7781; }
  .value { font-variant-numeric: tabular-nums; }
  .target { stroke: #cf222e; stroke-width: 2; stroke-dasharray: 3 2; }
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
${parts.join("\n")}
</svg>
`;
}
