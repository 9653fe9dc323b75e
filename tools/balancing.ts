/**
 * Load-balancing measurements shared by the tests (`balancing_test.ts`,
 * `runner_test.ts`, `reload_test.ts`), `scripts/measure.ts`,
 * `scripts/hosts.ts`, the bench and the demo: how evenly listeners on one
 * address get connections, what closing one of them under load costs, and
 * the parallel runner driven by `tools/load.mjs` from another process.
 */
import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { isNativeDeno } from "../core/detect.ts";
import {
  connect,
  listen,
  type Listener,
  setStrategy,
  strategyFor,
} from "../mod.ts";

/** The strategies that let several listeners share one address. */
export type SharedStrategy = "emulated" | "kernel";

/** Whether this runs on Deno (from source; on Node and Bun it runs from the build). */
export const onDeno: boolean = isNativeDeno();

/** The repository: this file is `tools/balancing.ts`, or built, `npm/esm/tools/balancing.js`. */
export const ROOT: string = fileURLToPath(
  new URL(
    import.meta.url.endsWith(".ts") ? "../" : "../../../",
    import.meta.url,
  ),
);

/** The Node that runs the load client: this process's, or on Deno the system's. */
export const LOAD_NODE: string = onDeno ? "node" : process.execPath;

/** Whether `strategy` works here; if not, why (the `NotSupported` message). */
export function strategyHere(
  strategy: SharedStrategy,
): { ok: boolean; reason: string } {
  setStrategy(strategy);
  try {
    return { ok: true, reason: strategyFor({ reusePort: true }).reason };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  } finally {
    setStrategy(undefined);
  }
}

/** `n` listeners on one new loopback port with `strategy` forced. */
export function listenGroup(strategy: SharedStrategy, n: number): Listener[] {
  const options = strategy === "kernel"
    ? { reusePort: true }
    : { loadBalanced: true };
  setStrategy(strategy);
  try {
    const first = listen({ hostname: "127.0.0.1", port: 0, ...options });
    const group = [first];
    while (group.length < n) {
      group.push(
        listen({ hostname: "127.0.0.1", port: first.addr.port, ...options }),
      );
    }
    return group;
  } finally {
    setStrategy(undefined);
  }
}

/** Runs `task` `total` times, `concurrency` at a time, until `until` (ms epoch). */
async function pool(
  total: number,
  concurrency: number,
  until: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(total, concurrency) }, async () => {
      while (next < total && Date.now() < until) await task(next++);
    }),
  );
}

/** Reads until `\n` or the end; the text before it. */
async function readLine(
  conn: { read(p: Uint8Array): Promise<number | null> },
): Promise<string> {
  const buf = new Uint8Array(32);
  let text = "";
  while (!text.includes("\n")) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return text.split("\n")[0];
}

/** What `fairness()` found. */
export interface Fairness {
  /** Connections each listener accepted. */
  counts: number[];
  /** Largest distance of a count from the mean, in % of the mean. */
  spreadPct: number;
  /** Client connections that were accepted exactly once. */
  exactlyOnce: number;
  /** Client connections accepted more than once or never. */
  wrong: number;
}

/** Largest distance of a count from the mean, in % of the mean. */
export function spreadPct(counts: number[]): number {
  const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
  return mean === 0
    ? 0
    : Math.max(...counts.map((c) => Math.abs(c - mean))) / mean * 100;
}

/**
 * `connections` connections (50 at a time, within 30 s) to `listeners` idle
 * listeners on one address; each connection sends its number, so that a
 * connection accepted twice or never shows.
 */
export async function fairness(
  strategy: SharedStrategy,
  listeners = 4,
  connections = 1000,
): Promise<Fairness> {
  const group = listenGroup(strategy, listeners);
  const counts = group.map(() => 0);
  const accepted = new Array<number>(connections).fill(0);
  const loops = group.map(async (listener, i) => {
    for await (const conn of listener) {
      counts[i]++;
      const id = Number(await readLine(conn).catch(() => ""));
      if (Number.isInteger(id) && id >= 0 && id < connections) accepted[id]++;
      conn.close();
    }
  });
  try {
    await pool(connections, 50, Date.now() + 30_000, async (i) => {
      const conn = await connect({ port: group[0].addr.port });
      await conn.write(new TextEncoder().encode(`${i}\n`));
      // The server closes once it has the number.
      await conn.read(new Uint8Array(1)).catch(() => null);
      conn.close();
    });
  } finally {
    for (const listener of group) listener.close();
    await Promise.all(loops);
  }
  const exactlyOnce = accepted.filter((n) => n === 1).length;
  return {
    counts,
    spreadPct: spreadPct(counts),
    exactlyOnce,
    wrong: connections - exactlyOnce,
  };
}

/** What `closeUnderLoad()` found. */
export interface CloseUnderLoad {
  /** Connections the client opened or tried to. */
  attempts: number;
  /** Connections that got the server's byte. */
  served: number;
  /** Refused connects. */
  refused: number;
  /** Connections reset or closed before the server's byte. */
  reset: number;
  /** Other failures, by error name. */
  other: Record<string, number>;
  /** Connections each listener served: [the one closed midway, the one left]. */
  perListener: [number, number];
  /** Connections the remaining listener served after the other closed. */
  afterClose: number;
}

/**
 * Two listeners on one address; a client opens connections as fast as it can
 * (16 at a time) for `durationMs` while the first listener closes at
 * `closeAtMs`. Each connection gets one byte from the server, then closes.
 */
export async function closeUnderLoad(
  strategy: SharedStrategy,
  durationMs = 2000,
  closeAtMs = 1000,
): Promise<CloseUnderLoad> {
  const [first, second] = listenGroup(strategy, 2);
  const port = first.addr.port;
  const result: CloseUnderLoad = {
    attempts: 0,
    served: 0,
    refused: 0,
    reset: 0,
    other: {},
    perListener: [0, 0],
    afterClose: 0,
  };
  let closed = false;
  const loops = [first, second].map(async (listener, i) => {
    try {
      for await (const conn of listener) {
        result.perListener[i]++;
        if (closed && i === 1) result.afterClose++;
        conn.write(new Uint8Array([1])).catch(() => {}).finally(() => {
          try {
            conn.close();
          } catch {
            // The client went first.
          }
        });
      }
    } catch {
      // The kernel strategy's accept may fail as the socket closes.
    }
  });
  const start = Date.now();
  const timer = setTimeout(() => {
    closed = true;
    first.close();
  }, closeAtMs);
  try {
    await pool(Infinity, 16, start + durationMs, async () => {
      result.attempts++;
      try {
        const conn = await connect({ port });
        try {
          const n = await conn.read(new Uint8Array(1));
          if (n === 1) result.served++;
          else result.reset++;
        } finally {
          conn.close();
        }
      } catch (err) {
        const name = (err as Error).name;
        if (name === "ConnectionRefused") result.refused++;
        else if (name === "ConnectionReset") result.reset++;
        else result.other[name] = (result.other[name] ?? 0) + 1;
      }
    });
  } finally {
    clearTimeout(timer);
    if (!closed) first.close();
    second.close();
    await Promise.all(loops);
  }
  return result;
}

/** One strategy's figures, or why it does not exist here. */
export interface StrategyFigures {
  strategy: SharedStrategy;
  /** Why the strategy cannot work here (then no figures). */
  skipped?: string;
  /** Why it was chosen. */
  reason?: string;
  fairness?: Fairness;
  close?: CloseUnderLoad;
}

/** Fairness and close-under-load figures for every strategy, for `scripts/measure.ts`. */
export async function measureStrategies(): Promise<StrategyFigures[]> {
  const rows: StrategyFigures[] = [];
  for (const strategy of ["emulated", "kernel"] as const) {
    const here = strategyHere(strategy);
    if (!here.ok) {
      rows.push({ strategy, skipped: here.reason });
      continue;
    }
    const fair = await fairness(strategy);
    const close = await closeUnderLoad(strategy);
    rows.push({ strategy, reason: here.reason, fairness: fair, close });
  }
  return rows;
}

/** What `tools/load.mjs` prints. */
export interface LoadResult {
  connections: number;
  requests: number;
  failed: number;
  failedConnections: number;
  errors: Record<string, number>;
  seconds: number;
  /** By worker number: connections and requests it answered, its pids. */
  workers: Record<
    string,
    { connections: number; requests: number; pids: number[] }
  >;
  /** How many workers answered before the load began (with `workers`). */
  ready?: number;
  /** With `workers`: a pid of each worker that answered before the load. */
  seen?: Record<string, number>;
  /** With `trace`: each connection. */
  trace?: {
    opened: number;
    closed: number;
    pids: number[];
    error?: string;
  }[];
}

/**
 * Runs `tools/load.mjs` on `node` with `--name=value` options; `signal`
 * ends it early (SIGTERM), rejecting.
 */
export function runLoad(
  node: string,
  options: Record<string, number | boolean | string>,
  signal?: AbortSignal,
): Promise<LoadResult> {
  // A flag set to false is left out: load.mjs takes a flag's presence as true.
  const args = Object.entries(options).filter(([, v]) => v !== false).map((
    [k, v],
  ) => v === true ? `--${k}` : `--${k}=${v}`);
  const child = spawn(node, ["tools/load.mjs", ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
    signal,
  });
  let out = "";
  child.stdout!.on("data", (chunk) => out += chunk);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code !== 0) {
        return reject(new Error(`tools/load.mjs exited with ${code}`));
      }
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`tools/load.mjs printed ${JSON.stringify(out)}`));
      }
    });
  });
}

/** A port that was free a moment ago. */
export function freePort(): number {
  const probe = listen({ hostname: "127.0.0.1", port: 0 });
  probe.close();
  return probe.addr.port;
}

/** The CLI serving `examples/http_app.mjs`, started by `startRunner()`. */
export interface Runner {
  port: number;
  /** A pid of each worker (by number) that answered when it started. */
  seen: Record<string, number>;
  /** What the runner wrote on stderr so far. */
  stderr(): string;
  /** Sends the runner a signal (`SIGHUP`: a reload). */
  signal(name: "SIGHUP" | "SIGTERM"): void;
  /** Stops it as Ctrl-C would; resolves its exit code. */
  stop(): Promise<number | null>;
}

/** What the runner serves: a module (a path from the repository, or absolute) and whether it answers over TLS. */
export interface RunnerApp {
  file: string;
  /** The load connects with `--tls` (`tests/fixtures/tls_app.mjs`). */
  tls?: boolean;
  /** The app listens on this Unix socket (`UNIX_PATH`), where the load connects. */
  path?: string;
}

/** `tools/load.mjs`'s options for where `app` listens: `--unix`, or `--port`. */
function target(app: RunnerApp, port: number): Record<string, number | string> {
  return app.path ? { unix: app.path } : { port };
}

const HTTP_APP: RunnerApp = { file: "examples/http_app.mjs" };

/**
 * Starts `<runtime> npm/esm/bin.js serve --parallel=<workers> --<mode>
 * <app>` (no `--<mode>` for `auto`) (`examples/http_app.mjs` unless told) on a free port; resolves once
 * every worker answered. `runtime` is a binary, or a binary and its flags
 * (`deno run -A`).
 */
export async function startRunner(
  runtime: string | string[],
  workers: number,
  mode: "threads" | "processes" | "auto",
  env: Record<string, string> = {},
  app: RunnerApp = HTTP_APP,
): Promise<Runner> {
  const port = freePort();
  const [bin, ...flags] = [runtime].flat();
  const child = spawn(bin, [
    ...flags,
    "npm/esm/bin.js",
    "serve",
    `--parallel=${workers}`,
    ...mode === "auto" ? [] : [`--${mode}`],
    app.file,
  ], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...env,
      PORT: String(port),
      ...app.path ? { UNIX_PATH: app.path } : {},
    },
    stdio: ["ignore", "inherit", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk) => stderr += chunk);
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code))
  );
  const runner: Runner = {
    port,
    seen: {},
    stderr: () => stderr,
    // process.kill, not child.kill: Deno's ChildProcess sends no signal
    // after its first kill().
    signal: (name) => process.kill(child.pid!, name),
    stop: () => {
      try {
        process.kill(child.pid!, "SIGINT");
      } catch {
        // It is gone already.
      }
      return exited;
    },
  };
  // A runner that cannot run here exits at once, saying why: no need to
  // wait for its workers.
  const gone = new AbortController();
  exited.then(() => gone.abort());
  const probe = await runLoad(LOAD_NODE, {
    ...target(app, port),
    workers,
    connections: 1,
    requests: 1,
    tls: app.tls === true,
  }, gone.signal).catch((err) => err as Error);
  if (probe instanceof Error || probe.ready !== workers) {
    await runner.stop();
    const why = gone.signal.aborted
      ? "it exited"
      : probe instanceof Error
      ? probe.message
      : `${probe.ready} answered`;
    throw new Error(
      `the runner did not start ${workers} ${mode} workers: ${why}\n${stderr}`,
    );
  }
  runner.seen = probe.seen!;
  // It says how it runs once every worker reported ready, which the probe
  // may beat.
  await until(() => stderr.includes(" workers ("), 5_000);
  return runner;
}

/** Waits until `check` holds, polling, for at most `ms`; whether it holds. */
export async function until(
  check: () => boolean,
  ms: number,
): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return check();
}

/** What `reloadUnderLoad()` found. */
export interface ReloadUnderLoad {
  /** The load: 16 clients connecting back to back, one request each. */
  load: LoadResult;
  /** By worker number, its pids: at the start, then after each reload. */
  pids: Record<string, number[]>;
  /** How long each reload took, from the signal to the runner's report. */
  reloadMs: number[];
}

/**
 * `reuseport serve --parallel=2` (`startRunner()`, serving `app`) under 16
 * clients that connect back to back (one request each) for `seconds`,
 * reloaded by `SIGHUP` `reloads` times, 1 s apart, each after the last is
 * done.
 */
export async function reloadUnderLoad(
  runtime: string | string[],
  mode: "threads" | "processes",
  env: Record<string, string> = {},
  reloads = 2,
  seconds = 8,
  app: RunnerApp = HTTP_APP,
): Promise<ReloadUnderLoad> {
  const runner = await startRunner(runtime, 2, mode, env, app);
  try {
    const pids: Record<string, number[]> = {};
    for (const [id, pid] of Object.entries(runner.seen)) pids[id] = [pid];
    const running = runLoad(LOAD_NODE, {
      ...target(app, runner.port),
      connections: 0,
      requests: 1,
      concurrency: 16,
      seconds,
      timeout: 5000,
      tls: app.tls === true,
    });
    const reloadMs: number[] = [];
    for (let round = 1; round <= reloads; round++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const began = Date.now();
      runner.signal("SIGHUP");
      const done = () =>
        runner.stderr().split("reloaded 2 workers").length - 1 >= round;
      if (!await until(done, 15_000)) {
        throw new Error(`reload ${round} did not finish\n${runner.stderr()}`);
      }
      reloadMs.push(Date.now() - began);
    }
    const load = await running;
    for (
      const [, id, pid] of runner.stderr().matchAll(
        /worker (\d+) reloaded: \S+ -> (\d+)/g,
      )
    ) pids[id].push(Number(pid));
    return { load, pids, reloadMs };
  } finally {
    await runner.stop();
  }
}

/** Failed connections of a load, by kind. */
export interface Failures {
  refused: number;
  /** Reset, or closed before the answer. */
  reset: number;
  /** Not connected or not answered within the load's timeout, or its time. */
  timedOut: number;
  other: number;
}

/** The kind of a failed connection, from the error `tools/load.mjs` gives for it. */
export function failureKind(error: string): keyof Failures {
  if (error === "ECONNREFUSED") return "refused";
  if (["ECONNRESET", "EPIPE", "closed by the server"].includes(error)) {
    return "reset";
  }
  if (["ETIMEDOUT", "unanswered", "out of time"].includes(error)) {
    return "timedOut";
  }
  return "other";
}

/** A load's failed connections, by kind. */
export function failures(load: LoadResult): Failures {
  const out: Failures = { refused: 0, reset: 0, timedOut: 0, other: 0 };
  for (const [error, count] of Object.entries(load.errors)) {
    out[failureKind(error)] += count;
  }
  return out;
}

/** What `killUnderLoad()` found. */
export interface KillUnderLoad {
  load: LoadResult;
  /** Failed connections. */
  failed: number;
  /** Failed connections no worker had answered at all. */
  neverAnswered: number;
}

/**
 * `reuseport serve --parallel=2 --processes` under 16 keep-alive clients (5
 * requests per connection) for 3 s; worker 1 is SIGKILLed at 1 s.
 */
export async function killUnderLoad(
  runtime: string | string[],
  env: Record<string, string> = {},
): Promise<KillUnderLoad> {
  const runner = await startRunner(runtime, 2, "processes", env);
  try {
    const running = runLoad(LOAD_NODE, {
      port: runner.port,
      connections: 0,
      requests: 5,
      concurrency: 16,
      seconds: 3,
      timeout: 5000,
      trace: true,
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    process.kill(runner.seen["1"], "SIGKILL");
    const load = await running;
    const lost = load.trace!.filter((c) => c.error);
    return {
      load,
      failed: lost.length,
      neverAnswered: lost.filter((c) => c.pids.length === 0).length,
    };
  } finally {
    await runner.stop();
  }
}
