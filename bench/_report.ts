/**
 * From per-round samples to results: medians, per-round ratios of ours to
 * the peer, per-worker shares, and the Markdown table. Pure functions, so
 * that `bench/report_test.ts` can check them on fixed input.
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
  /** Least acceptable ours/peer ratio, where there is one. */
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
  /** Why it cannot run here; absent when it can. */
  unavailable?: string;
}

/** One measurement of one candidate. */
export interface Sample {
  value: number;
  /** Requests each worker served, for multi-worker candidates. */
  workers?: number[];
}

/** A candidate's samples, one per round. */
export interface CandidateResult extends CandidateSpec {
  samples: number[];
  median: number | null;
  /** Per round, requests per worker. */
  workers?: number[][];
  /** Each worker's share of all requests over all rounds (sums to 1). */
  shares?: number[];
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
 * the `peer` of its group, round by round.
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
      ...(spec.unavailable ? { unavailable: spec.unavailable } : {}),
      samples: values,
      median: values.length ? median(values) : null,
    };
    const workers = samples.flatMap((s) => s.workers ? [s.workers] : []);
    if (workers.length) {
      result.workers = workers;
      result.shares = shares(workers);
    }
    return result;
  });
  const comparisons: Comparison[] = [];
  for (const ours of candidates) {
    if (ours.role !== "ours" || ours.median === null) continue;
    const peer = candidates.find((c) =>
      c.role === "peer" && c.group === ours.group && c.median !== null
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
      ...(row.target === undefined
        ? {}
        : { target: row.target, met: ratio >= row.target }),
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
          "reference",
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
