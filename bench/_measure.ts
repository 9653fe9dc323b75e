/**
 * How one candidate is measured once, against a running server: request
 * rates (from `wrk`, or `tools/load.mjs` without it; over TLS from `wrk`
 * only), echo throughput, and
 * server memory per idle connection and per listener.
 *
 * @module
 */
import type { Knobs, Machine } from "./_env.ts";
import { Child, output, pinned, type Server } from "./_proc.ts";
import { median, type Sample } from "./_report.ts";

/** What every measurement needs to know. */
export interface Bench {
  knobs: Knobs;
  machine: Machine;
}

/** Keep-alive requests, or one request per connection. */
export type HttpLoad = "keepalive" | "close";

/** How a request rate is taken beyond its load. */
export interface RequestOptions {
  /** Also count the requests each worker served (multi-worker servers). */
  perWorker?: boolean;
  /** Over TLS (`https://`); needs wrk, as tools/load.mjs speaks plain TCP only. */
  tls?: boolean;
}

const WARMUP_SECONDS = 1;
const WARMUP_MIB = 64;
/**
 * Transfers a bulk measurement is split into, its rate their median: one
 * transfer's rate on this VM swings by half from one to the next, even on
 * the same server.
 */
const ECHO_TRANSFERS = 5;
/** Connections being opened at a time while the memory row fills up. */
const HOLD_CONCURRENCY = 256;
/** Loads may take a while on a busy machine; a hung one must not hang the run. */
const SLACK_MS = 60_000;

/** `tools/load.mjs` on the system's Node, pinned to the load's core, with `--name=value` options. */
function loader(
  bench: Bench,
  port: number,
  options: Record<string, number | true>,
): string[] {
  return pinned(bench.machine.loadCpus, [
    "node",
    "tools/load.mjs",
    `--port=${port}`,
    ...Object.entries(options).map(([k, v]) =>
      v === true ? `--${k}` : `--${k}=${v}`
    ),
  ]);
}

/** Requests per second against `port` for `seconds`. */
async function requestRate(
  bench: Bench,
  port: number,
  load: HttpLoad,
  seconds: number,
  tls: boolean,
): Promise<number> {
  const { knobs, machine } = bench;
  const timeout = seconds * 1000 + SLACK_MS;
  if (machine.wrk) {
    const out = await output(
      pinned(machine.loadCpus, [
        "wrk",
        "-t1",
        `-c${knobs.connections}`,
        `-d${seconds}s`,
        ...(load === "close" ? ["-H", "Connection: close"] : []),
        // wrk verifies no certificate: the bench's own CA needs no trusting.
        `${tls ? "https" : "http"}://127.0.0.1:${port}/`,
      ]),
      timeout,
    );
    const rate = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1];
    if (!rate) throw new Error(`wrk printed no request rate:\n${out}`);
    return Number(rate);
  }
  // Duration mode: new connections until the time is up, each with as many
  // requests as it can, or one that the server ends.
  const out = await output(
    loader(bench, port, {
      connections: 0,
      concurrency: knobs.connections,
      seconds,
      ...(load === "close" ? { close: true } : { requests: 0 }),
      // Resuming the last session, as wrk's connections do.
      ...(tls ? { tls: true, resume: true } : {}),
    }),
    timeout,
  );
  const { requests, seconds: took } = JSON.parse(out);
  return requests / took;
}

/**
 * Requests per second on `server` after a warm-up. With `perWorker`, also
 * the requests each worker served during the measured part; with `tls`,
 * over TLS.
 */
export async function measureRequests(
  bench: Bench,
  server: Server,
  load: HttpLoad,
  { perWorker = false, tls = false }: RequestOptions = {},
): Promise<Sample> {
  await requestRate(bench, server.port, load, WARMUP_SECONDS, tls);
  const before = perWorker ? await server.ask("stats") : null;
  const value = await requestRate(
    bench,
    server.port,
    load,
    bench.knobs.seconds,
    tls,
  );
  if (!before) return { value };
  const after = await server.ask("stats");
  return {
    value,
    workers: after.requests.map((n, i) => n - before.requests[i]),
  };
}

async function echo(bench: Bench, port: number, mib: number): Promise<number> {
  const out = await output(
    loader(bench, port, { echo: mib * 1024 * 1024 }),
    mib * 1000 + SLACK_MS, // at least 1 MB/s
  );
  const { bytes, seconds } = JSON.parse(out);
  return bytes / seconds / 1e6;
}

/**
 * MB/s that `server` echoes, after a warm-up: the median of the transfers
 * that BENCH_BULK_MIB is split into, each sent and read back.
 */
export async function measureEcho(
  bench: Bench,
  server: Server,
): Promise<Sample> {
  const { bulkMiB } = bench.knobs;
  await echo(bench, server.port, Math.min(WARMUP_MIB, bulkMiB));
  const rates: number[] = [];
  const each = Math.max(1, Math.round(bulkMiB / ECHO_TRANSFERS));
  for (let i = 0; i < ECHO_TRANSFERS; i++) {
    rates.push(await echo(bench, server.port, each));
  }
  return { value: median(rates) };
}

/**
 * KiB of server memory (RSS after a full GC) per idle connection: a client
 * process opens BENCH_IDLE_CONNECTIONS keep-alive connections (256 at a
 * time), makes one request on each, and holds them open.
 */
export async function measureIdleMemory(
  bench: Bench,
  server: Server,
): Promise<Sample> {
  const n = bench.knobs.idleConnections;
  const before = await server.ask("stats");
  const holder = new Child(
    loader(bench, server.port, {
      connections: n,
      // Held connections make room for the next: thousands connecting at
      // once on a busy machine would time out in the backlog, not measure.
      concurrency: Math.min(n, HOLD_CONCURRENCY),
      requests: 1,
      seconds: SLACK_MS / 1000,
      hold: true,
    }),
  );
  try {
    await holder.line(SLACK_MS);
    const after = await server.ask("stats");
    if (after.connections !== n) {
      throw new Error(
        `the server holds ${after.connections} connections, not ${n}`,
      );
    }
    return { value: (after.rss - before.rss) / n / 1024 };
  } finally {
    await holder.stop();
  }
}

/** KiB of server memory (RSS after a full GC) per listener, over BENCH_LISTENERS more. */
export async function measureListenerMemory(
  bench: Bench,
  server: Server,
): Promise<Sample> {
  const n = bench.knobs.listeners;
  const before = await server.ask("stats");
  const after = await server.ask(`listen ${n}`);
  return { value: (after.rss - before.rss) / n / 1024 };
}
