/**
 * The reliability suite's harness: one size knob, figures with limits, and
 * the measurements the stress tests share (open fds, the resource table,
 * memory, process-level errors). The same test files run small inside
 * `npm test` and full size under `npm run stress` (`STRESS_SCALE=1`).
 *
 * Environment:
 * - `STRESS_SCALE`  fraction of the full sizes, in (0, 1]; default 0.05
 * - `STRESS_REPORT` file to append each figure to, one JSON line each
 *   (`scripts/stress.ts` reads them back for its summary table)
 *
 * @module
 */
import assert from "node:assert/strict";
import { appendFileSync, existsSync, readdirSync, readFileSync } from "node:fs";
import process from "node:process";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  connect,
  listen,
  type TcpConn,
  type TcpListener,
  type TcpListenOptions,
} from "../mod.ts";
import { isBun, isNativeDeno } from "../core/detect.ts";
import { connections, resources } from "../ops/mod.ts";
import {
  setStrategy,
  type Strategy,
  strategyFor,
  type StrategySetting,
} from "../mod.ts";

/** Fraction of the full sizes this run uses. */
const SCALE: number = scaleFromEnv(process.env.STRESS_SCALE);

function scaleFromEnv(value: string | undefined): number {
  if (value === undefined || value === "") return 0.05;
  const scale = Number(value);
  if (!(scale > 0 && scale <= 1)) {
    throw new RangeError(
      `STRESS_SCALE must be a number in (0, 1], got '${value}'`,
    );
  }
  return scale;
}

/** `full` at `STRESS_SCALE=1`, scaled down otherwise, never below `floor`. */
export function sized(full: number, floor: number): number {
  return Math.max(floor, Math.round(full * SCALE));
}

/** A test timeout for work that takes up to `perUnitMs` for each of `units`. */
export function budget(units: number, perUnitMs: number): number {
  return 20_000 + Math.ceil(units * perUnitMs);
}

/** The runtime running this file, for the report: `deno 2.9.6`, `bun 1.4.5`, `node 22.12.0`. */
const RUNTIME_LABEL: string = isNativeDeno()
  ? `deno ${process.versions.deno}`
  : isBun()
  ? `bun ${process.versions.bun}`
  : `node ${process.versions.node}`;

/** One measured figure and whether it is within its limit. */
export interface Figure {
  test: string;
  figure: string;
  value: string;
  limit: string;
  pass: boolean;
}

/**
 * The figures of one test. Each `check` records a figure (and appends it to
 * `STRESS_REPORT`); `assertAll` fails the test with every figure out of
 * limits, so one run shows all of them, not only the first.
 */
export class Figures {
  readonly test: string;
  readonly all: Figure[] = [];

  constructor(test: string) {
    this.test = test;
  }

  /** Records `figure` = `value` against `limit`; returns `pass`. */
  check(
    figure: string,
    value: number | string,
    limit: string,
    pass: boolean,
  ): boolean {
    const entry: Figure = {
      test: this.test,
      figure,
      value: typeof value === "number" ? formatNumber(value) : value,
      limit,
      pass,
    };
    this.all.push(entry);
    const file = process.env.STRESS_REPORT;
    if (file) {
      appendFileSync(
        file,
        JSON.stringify({ runtime: RUNTIME_LABEL, scale: SCALE, ...entry }) +
          "\n",
      );
    }
    return pass;
  }

  /** Nothing counted in `tally` (errors, say). */
  none(figure: string, tally: Tally): boolean {
    return this.check(figure, tally.toString(), "= 0", tally.total === 0);
  }

  /** `value` ≤ `max`. */
  atMost(figure: string, value: number, max: number, unit = ""): boolean {
    return this.check(
      figure,
      `${formatNumber(value)}${unit}`,
      `≤ ${formatNumber(max)}${unit}`,
      value <= max,
    );
  }

  /** `value` ≥ `min`. */
  atLeast(figure: string, value: number, min: number, unit = ""): boolean {
    return this.check(
      figure,
      `${formatNumber(value)}${unit}`,
      `≥ ${formatNumber(min)}${unit}`,
      value >= min,
    );
  }

  /** `value` = `expected`. */
  exactly(figure: string, value: number, expected: number): boolean {
    return this.check(
      figure,
      formatNumber(value),
      `= ${formatNumber(expected)}`,
      value === expected,
    );
  }

  /** Fails with every figure out of its limit. */
  assertAll(): void {
    const failed = this.all.filter((f) => !f.pass);
    assert.equal(
      failed.length,
      0,
      failed.map((f) => `${f.figure}: ${f.value} (limit ${f.limit})`).join(
        "; ",
      ),
    );
  }
}

function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return n.toLocaleString("en-US");
  return n.toLocaleString("en-US", { maximumFractionDigits: 2 });
}

/** A byte count in KiB or MiB, for figures. */
export function kib(bytes: number): number {
  return Math.round(bytes / 102.4) / 10;
}

// ---------------------------------------------------------------------------
// Strategies

/** A way to put several listeners on one address, as a test case. */
export interface StrategyCase {
  /** The options that ask for it, besides hostname and port. */
  options: Pick<TcpListenOptions, "reusePort" | "loadBalanced">;
  /** A strategy forced with `setStrategy()` while listening, if any. */
  force?: StrategySetting;
  /** What this runtime gives for those options. */
  strategy: Strategy;
  /** `loadBalanced → emulated`, for test names and figures. */
  label: string;
}

/**
 * The ways the load and queue tests share an address: the options, and a
 * strategy forced over them so that every strategy this runtime has runs
 * (`reusePort` is `kernel` on Node ≥ 22.12 and Deno on Linux, `emulated`
 * elsewhere). Add an entry here to run every shared-address test with it.
 */
export const SHARING_OPTIONS: Pick<StrategyCase, "options" | "force">[] = [
  { options: { loadBalanced: true } },
  { options: { reusePort: true } },
  { options: { reusePort: true }, force: "emulated" },
  { options: { reusePort: true }, force: "kernel" },
];

/** Runs `fn` with `force` as the strategy setting. */
function forcing<T>(force: StrategySetting | undefined, fn: () => T): T {
  setStrategy(force);
  try {
    return fn();
  } finally {
    setStrategy(undefined);
  }
}

/**
 * `SHARING_OPTIONS` with the strategy each gets here; a forced strategy that
 * cannot work here, or that gives what the options give anyway, is left out.
 */
export function strategyCases(): StrategyCase[] {
  const cases: StrategyCase[] = [];
  for (const { options, force } of SHARING_OPTIONS) {
    let strategy: Strategy;
    try {
      strategy = forcing(force, () => strategyFor(options).strategy);
    } catch {
      continue; // NotSupported: no kernel strategy here
    }
    if (force && strategyFor(options).strategy === strategy) continue;
    const flags = Object.keys(options).filter((k) =>
      options[k as keyof typeof options]
    ).join("+");
    const how = force ? `forced ${force}` : strategy;
    cases.push({ options, force, strategy, label: `${flags} → ${how}` });
  }
  return cases;
}

/** A listener with the case's options and forced strategy. */
export function listenAs(
  c: StrategyCase,
  options: { hostname: string; port: number; tcpBacklog?: number },
): TcpListener {
  return forcing(c.force, () => listen({ ...options, ...c.options }));
}

// ---------------------------------------------------------------------------
// Measurements

/** Open file descriptors of this process, or undefined where `/proc` is missing. */
export function openFds(): number | undefined {
  if (!existsSync("/proc/self/fd")) return undefined;
  return readdirSync("/proc/self/fd").length;
}

/** The soft limit on open files (`ulimit -n`), or undefined where unknown. */
function fdLimit(): number | undefined {
  if (!existsSync("/proc/self/limits")) return undefined;
  const line = readFileSync("/proc/self/limits", "utf8").split("\n")
    .find((l) => l.startsWith("Max open files"));
  const soft = line?.split(/\s{2,}/)[1];
  return soft === undefined || soft === "unlimited" ? Infinity : Number(soft);
}

/**
 * How many more file descriptors a test may open: the soft limit less what
 * is open and a margin for the runtime (1024 assumed where unknown).
 */
function fdHeadroom(): number {
  const limit = fdLimit() ?? 1024;
  return limit - (openFds() ?? 64) - 256;
}

/**
 * `wanted`, or fewer if that many items holding `fdsEach` descriptors each
 * would not fit under `ulimit -n`; at least 1.
 */
export function fitFds(wanted: number, fdsEach: number): number {
  return Math.max(1, Math.min(wanted, Math.floor(fdHeadroom() / fdsEach)));
}

/** Whether `err` says the process ran out of file descriptors. */
export function isFdExhaustion(err: unknown): boolean {
  const text = `${(err as Error)?.message} ${(err as { code?: string })?.code}`;
  return /too many open files|EMFILE|ENFILE|os error 2[34]\b/i.test(text);
}

/** Rethrows fd exhaustion as a message that says what to do about it. */
export function explainFdExhaustion(err: unknown): never {
  if (isFdExhaustion(err)) {
    throw new Error(
      `out of file descriptors (ulimit -n is ${fdLimit()}, ${openFds()} open): ` +
        `raise it with 'ulimit -n' or lower STRESS_SCALE`,
      { cause: err },
    );
  }
  throw err;
}

/** Number of open rids in the resource table. */
export function openResources(): number {
  return Object.keys(resources()).length;
}

/** Shared listening sockets the `Connections` registry holds. */
export function sharedSockets(): number {
  return connections.size;
}

let gcFunction: (() => void) | null | undefined;

/**
 * A full GC: Bun's own (`Bun.gc(true)`), else V8's `gc()`, reached through a
 * flag set at run time; null where neither is there.
 */
function gc(): (() => void) | null {
  const bun = (globalThis as { Bun?: { gc?(sync: boolean): void } }).Bun;
  if (gcFunction === undefined && typeof bun?.gc === "function") {
    gcFunction = () => bun.gc!(true);
  }
  if (gcFunction === undefined) {
    try {
      setFlagsFromString("--expose-gc");
      gcFunction = runInNewContext("gc") as () => void;
    } catch {
      gcFunction = null;
    }
  }
  return gcFunction;
}

/** What memory figures measure: the heap after a full GC, or RSS without one. */
export const MEMORY_KIND: string = gc() ? "heap after GC" : "RSS";

/** Memory in bytes: heap used after a full GC where `gc()` is available, else RSS. */
export function memory(): number {
  const collect = gc();
  if (!collect) return process.memoryUsage().rss;
  collect();
  return process.memoryUsage().heapUsed;
}

/** Resident set size in bytes, after a GC where available. */
export function rss(): number {
  gc()?.();
  return process.memoryUsage().rss;
}

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `read` until `done(value)` or until `ms` passed; returns the last
 * value. Closing is not always synchronous in the OS (a runtime may release
 * a socket on its next turn), so counts are read once they settle.
 */
export async function settle<T>(
  read: () => T,
  done: (value: T) => boolean,
  ms = 5_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let value = read();
  while (!done(value) && Date.now() < deadline) {
    await delay(20);
    value = read();
  }
  return value;
}

/** What is open now, to compare with after a test. */
export interface Baseline {
  fds: number | undefined;
  resources: number;
  sharedSockets: number;
}

/** Open fds, rids and shared sockets now. */
export function baseline(): Baseline {
  return {
    fds: openFds(),
    resources: openResources(),
    sharedSockets: sharedSockets(),
  };
}

/**
 * Collects `uncaughtException` and `unhandledRejection` while a test runs.
 * `stop()` removes the listeners and returns what arrived.
 */
export function watchProcess(): { stop(): unknown[] } {
  const seen: unknown[] = [];
  const onError = (err: unknown) => seen.push(err);
  process.on("uncaughtException", onError);
  process.on("unhandledRejection", onError);
  return {
    stop() {
      process.off("uncaughtException", onError);
      process.off("unhandledRejection", onError);
      return seen;
    },
  };
}

/**
 * Records, as one figure, what a test left behind: rids, shared sockets and
 * fds open beyond `before` (once they settle), and the `uncaughtException`s
 * and `unhandledRejection`s `watch` saw. All must be 0.
 */
export async function checkClean(
  figures: Figures,
  before: Baseline,
  watch: { stop(): unknown[] },
): Promise<void> {
  const rids = await settle(openResources, (n) => n <= before.resources) -
    before.resources;
  const shared = sharedSockets() - before.sharedSockets;
  const fds = before.fds === undefined
    ? undefined
    : await settle(() => openFds()!, (n) => n <= before.fds!) - before.fds;
  const seen = watch.stop();
  const errors = seen.length === 0
    ? "0"
    : `${seen.length} (${seen.slice(0, 3).map(String).join("; ")})`;
  figures.check(
    "left open (rids, shared sockets, fds); process errors",
    `${rids}, ${shared}, ${fds ?? "n/a"}; ${errors}`,
    "0, 0, 0; 0",
    rids <= 0 && shared <= 0 && (fds ?? 0) <= 0 && seen.length === 0,
  );
}

/** `promise`, or a rejection naming `what` once `ms` passed. */
export function deadline<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no answer within ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The kernel's cap on a listen backlog (`somaxconn`), or undefined. */
export function somaxconn(): number | undefined {
  const path = "/proc/sys/net/core/somaxconn";
  return existsSync(path) ? Number(readFileSync(path, "utf8")) : undefined;
}

/**
 * The most bytes a connection's socket buffers can hold between a writer
 * and a peer that does not read: the sender's and the receiver's buffer
 * maxima (`tcp_wmem`, `tcp_rmem` on Linux; 8 MiB each where unknown).
 */
export function socketBufferBytes(): number {
  const max = (name: string): number => {
    const path = `/proc/sys/net/ipv4/${name}`;
    if (!existsSync(path)) return 8 * 1024 * 1024;
    return Number(readFileSync(path, "utf8").trim().split(/\s+/)[2]);
  };
  return max("tcp_wmem") + max("tcp_rmem");
}

/** Runs `fn` over `items`, at most `width` at a time; resolves when all are done. */
export async function inBursts<T>(
  items: T[],
  width: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < items.length; i += width) {
    await Promise.all(items.slice(i, i + width).map(fn));
  }
}

/**
 * A client and the server end accepted for it, on a listener of their own
 * (closed once it accepted), so that pairs can be made concurrently.
 */
export async function connectedPair(): Promise<
  { client: TcpConn; server: TcpConn }
> {
  let listener: TcpListener;
  try {
    listener = listen({ hostname: "127.0.0.1", port: 0 });
  } catch (err) {
    return explainFdExhaustion(err);
  }
  const accepted = listener.accept();
  try {
    const client = await connect({
      hostname: "127.0.0.1",
      port: listener.addr.port,
    });
    return { client, server: await accepted };
  } catch (err) {
    accepted.then((conn) => conn.close(), () => {});
    return explainFdExhaustion(err);
  } finally {
    listener.close();
  }
}

/** Counts errors (or other outcomes) by name: `3 (ConnectionReset 2, BrokenPipe 1)`. */
export class Tally {
  readonly counts: Record<string, number> = {};
  total = 0;
  /** Whether any error said the process ran out of file descriptors. */
  outOfFds = false;

  /** Counts `outcome` under its `name` (an error's) or its string form. */
  add(outcome: unknown): void {
    const name = outcome instanceof Error ? outcome.name : String(outcome);
    this.counts[name] = (this.counts[name] ?? 0) + 1;
    this.total++;
    this.outOfFds ||= isFdExhaustion(outcome);
  }

  /** How many were counted under `names`. */
  of(...names: string[]): number {
    return names.reduce((sum, name) => sum + (this.counts[name] ?? 0), 0);
  }

  toString(): string {
    const entries = Object.entries(this.counts);
    if (entries.length === 0) return "0";
    const counts = entries.map(([k, v]) => `${k} ${v}`).join(", ");
    const fds = this.outOfFds
      ? `; out of file descriptors (ulimit -n ${fdLimit()}): raise it or lower STRESS_SCALE`
      : "";
    return `${this.total} (${counts}${fds})`;
  }
}

/** Reads exactly `buf.length` bytes; false if the stream ended first. */
export async function readFull(
  conn: TcpConn,
  buf: Uint8Array,
): Promise<boolean> {
  let n = 0;
  while (n < buf.length) {
    const got = await conn.read(buf.subarray(n));
    if (got === null) return false;
    n += got;
  }
  return true;
}

/**
 * Connections waiting in the kernel's accept queue of the IPv4 listening
 * socket on `port` (the `rx_queue` of its LISTEN line in `/proc/net/tcp`),
 * or undefined where that file is missing or has no such socket.
 */
export function kernelAcceptQueue(port: number): number | undefined {
  if (!existsSync("/proc/net/tcp")) return undefined;
  const portHex = port.toString(16).toUpperCase().padStart(4, "0");
  let total: number | undefined;
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n")) {
    const [, local, , state, queues] = line.trim().split(/\s+/);
    if (state !== "0A" || !local?.endsWith(`:${portHex}`)) continue;
    total = (total ?? 0) + parseInt(queues.split(":")[1], 16);
  }
  return total;
}

/**
 * Accepts on `listener` until it closes, runs `handle` on each connection
 * (concurrently) and closes it afterwards. Errors, accept's included, go to
 * `errors`. Resolves with how many were accepted, once every handler ended.
 */
export async function serveAll(
  listener: TcpListener,
  errors: Tally,
  handle: (conn: TcpConn) => Promise<void> = () => Promise.resolve(),
): Promise<number> {
  let accepted = 0;
  const pending = new Set<Promise<void>>();
  try {
    for await (const conn of listener) {
      accepted++;
      const p = handle(conn).catch((err) => errors.add(err))
        .finally(() => conn.close());
      pending.add(p);
      p.finally(() => pending.delete(p));
    }
  } catch (err) {
    errors.add(err);
  }
  await Promise.all(pending);
  return accepted;
}
