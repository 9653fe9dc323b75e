/**
 * `npm run bench`: this package beside the runtime's own API (and nginx, when
 * installed, as the machine's ceiling), row by row (see `bench/_rows.ts`):
 * keep-alive request/response, connection per request, bulk transfer,
 * multi-core with a CPU-bound handler, memory per connection and listener,
 * keep-alive and connection per request over TLS, UDP receive and
 * request/reply rates, and keep-alive and connection per request over a
 * Unix socket.
 *
 * Ratios, never absolute times, are the result: each row runs its candidates
 * in the same run, alternating, for several rounds, and reports medians and
 * the median of the per-round ratios ours ÷ peer. Servers and load run in
 * processes of their own, pinned to different cores where `taskset` exists.
 *
 * Writes `bench/results/latest.json` (everything), `latest.md` (the table,
 * also printed) and `latest.svg` (the chart).
 *
 * Knobs: BENCH_ROUNDS (5), BENCH_SECONDS (3), BENCH_CONNECTIONS (64),
 * BENCH_BULK_MIB (1024), BENCH_IDLE_CONNECTIONS (4000), BENCH_LISTENERS (500),
 * BENCH_ROWS (all; comma-separated id prefixes: keepalive, close, bulk,
 * multicore, memory, tls, udp, unix), BENCH_NGINX (/usr/sbin/nginx), BENCH_NODE (24,26: the
 * Node lines of the Node rows, run newest first; row 4 runs on the newest).
 *
 * Usage: `deno run -A bench/main.ts` (`npm run bench`)
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { DENO, inspectMachine, type Machine, readKnobs } from "./_env.ts";
import type { Bench } from "./_measure.ts";
import {
  formatValue,
  markdownTable,
  type RowResult,
  type Sample,
  summarize,
  svgChart,
} from "./_report.ts";
import { type Candidate, type Row, rows } from "./_rows.ts";
import { ROOT } from "../scripts/runtimes.ts";

const RESULTS = join(ROOT, "bench", "results");

/** Runs a row: every round, each candidate once, the order reversed every other round. */
async function runRow(row: Row, rounds: number): Promise<RowResult> {
  console.log(`\n${row.title} (${row.unit})`);
  const runnable = row.candidates.filter((c) => !c.unavailable);
  const samples = new Map<Candidate, Sample[]>(runnable.map((c) => [c, []]));
  for (let round = 1; round <= rounds; round++) {
    // Neither side always goes first, or always runs on a warmer machine.
    const order = round % 2 ? runnable : [...runnable].reverse();
    for (const c of order) {
      const sample = await c.measure();
      samples.get(c)!.push(sample);
      const workers = sample.workers ? ` (workers: ${sample.workers})` : "";
      const lost = sample.loss === undefined
        ? ""
        : ` (lost: ${(sample.loss * 100).toFixed(1)} %)`;
      console.log(
        `  round ${round}/${rounds}  ${c.label} (${c.group}): ` +
          `${formatValue(sample.value)} ${row.unit}${workers}${lost}`,
      );
    }
  }
  for (const c of row.candidates.filter((c) => c.unavailable)) {
    console.log(`  not run: ${c.label} (${c.group}): ${c.unavailable}`);
  }
  return summarize(
    row,
    row.candidates.map((c) => ({ spec: c, samples: samples.get(c) ?? [] })),
  );
}

/** The command that made the results, with the knobs that were set. */
function command(): string {
  const set = Object.entries(process.env)
    .filter(([name]) => name.startsWith("BENCH_"))
    .map(([name, value]) => `${name}=${value} `)
    .sort();
  return `${set.join("")}npm run bench`;
}

/** The run in two lines: how long and with what; on which machine. */
function describe(machine: Machine, bench: Bench): [string, string] {
  const { knobs } = bench;
  const tools = [
    `Node ${
      machine.nodes.map((n) => n.version ?? "?").join(", ")
    } (newest first)`,
    `Deno ${machine.deno.version ?? "?"}`,
    machine.nodeKernel.version && `Node ${machine.nodeKernel.version} (row 4)`,
    machine.nginx.version && `nginx ${machine.nginx.version}`,
    machine.wrk ? "wrk" : "tools/load.mjs (no wrk)",
  ].filter(Boolean).join(", ");
  const pinning = machine.serverCpus === undefined
    ? "not pinned"
    : `server on cpu ${machine.serverCpus}, load on cpu ${machine.loadCpus}`;
  return [
    `${knobs.rounds} rounds, ${knobs.seconds} s per request rate; ${tools}`,
    `${machine.cores} × ${machine.cpu}, ${machine.os}; ${pinning}`,
  ];
}

async function main(): Promise<void> {
  process.chdir(ROOT);
  const knobs = readKnobs();
  const machine = await inspectMachine(knobs);
  const bench: Bench = { knobs, machine };
  // Always rebuilt: a stale build would measure old code.
  execFileSync(DENO, ["run", "-A", "scripts/build_npm.ts", "--no-test"], {
    stdio: "inherit",
  });
  const selected = rows(bench, knobs.rows);
  if (!selected.length) {
    throw new RangeError(`BENCH_ROWS='${knobs.rows}' matches no row`);
  }
  const about = describe(machine, bench);
  console.log(about.join("\n"));

  const started = Date.now();
  const results: RowResult[] = [];
  for (const row of selected) results.push(await runRow(row, knobs.rounds));
  const minutes = (Date.now() - started) / 60_000;

  const made = command();
  const table = markdownTable(results);
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(
    join(RESULTS, "latest.json"),
    JSON.stringify(
      {
        date: new Date().toISOString(),
        command: made,
        minutes: Number(minutes.toFixed(1)),
        knobs,
        machine,
        rows: results,
      },
      null,
      2,
    ) + "\n",
  );
  writeFileSync(
    join(RESULTS, "latest.md"),
    `Made by \`${made}\`: ${about.join("; ")}.\n\n${table}`,
  );
  writeFileSync(
    join(RESULTS, "latest.svg"),
    svgChart(
      results,
      "@reuseport/net beside the runtime's own API: medians, ours ÷ peer",
      [`made by ${made}`, ...about],
    ),
  );
  // As `deno fmt --check` (part of `npm test`) wants them.
  execFileSync(DENO, ["fmt", "--quiet", RESULTS]);
  console.log(`\n${table}`);
  console.log(
    `${minutes.toFixed(1)} min; written: bench/results/latest.{json,md,svg}`,
  );
}

await main();
