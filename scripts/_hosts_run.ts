/**
 * The run behind `npm run hosts` and `scripts/hosts_test.ts`: two stand-in
 * hosts (network namespaces), each running `reuseport serve --parallel` with
 * `examples/http_app.mjs`, HAProxy in front of them on 127.0.0.1, load from
 * `tools/load.mjs` in a process of its own, and the phases: steady load,
 * a rolling reload of host A (SIGHUP to its runner), a hard kill of host B
 * and its restart. Every phase reports what the clients saw.
 *
 * @module
 */
import { join } from "node:path";
import {
  failureKind,
  freePort,
  type LoadResult,
  runLoad,
} from "../tools/balancing.ts";
import {
  type Backend,
  CHECKS,
  type CheckSettings,
  type Haproxy,
  haproxyConfig,
  haproxyMissing,
  type ServerStat,
  startHaproxy,
} from "./_haproxy.ts";
import {
  alive,
  createHosts,
  type NetnsHost,
  netnsMissing,
  pidsIn,
  removeHosts,
  signalAll,
} from "./_netns.ts";
import { ROOT } from "./runtimes.ts";

/** The app's port on every host. */
const APP_PORT = 8080;
/** Every connection the load opens sends this many requests. */
const REQUESTS = 5;
/** A connection quiet for this long counts as timed out. */
const CLIENT_TIMEOUT_MS = 3_000;

/** How big a run is. */
export interface HostsOptions {
  /** Workers per host (`--parallel=N`). */
  workers: number;
  /** Connections open at once. */
  concurrency: number;
  /** Seconds of steady load, and of load around each event. */
  seconds: number;
  /** Also restart host A's runner (SIGTERM, start) as a phase of its own. */
  restartA: boolean;
  /** The Node that runs the runners and the load. */
  node: string;
  checks: CheckSettings;
  /** Progress lines. */
  log: (line: string) => void;
}

/** How a run of the default size is made. */
export const DEFAULTS: HostsOptions = {
  workers: 2,
  concurrency: 16,
  seconds: 4,
  restartA: true,
  node: "node",
  checks: CHECKS,
  log: () => {},
};

/** What clients saw: connections by how they ended. */
export interface Outcome {
  /** Every request answered. */
  served: number;
  refused: number;
  /** Reset or closed by the other side before every answer came. */
  reset: number;
  timedOut: number;
  /** Anything else (a wrong answer). */
  other: number;
  /** Failed connections by error code. */
  errors: Record<string, number>;
}

/** A moment of a phase, in ms since the phase's load began. */
export interface Mark {
  at: number;
  what: string;
}

/** One phase: its load's outcome, where connections went, what happened. */
export interface PhaseResult {
  name: string;
  outcome: Outcome;
  /** Served connections by host label. */
  byHost: Record<string, number>;
  marks: Mark[];
  /** Failed connections: opened and closed (ms since the load began), why. */
  failures: { opened: number; closed: number; error: string }[];
  /** Failed connections that were open at no moment of `window`. */
  outsideWindow?: number;
  /** The phase's window in which failures are expected (ms). */
  window?: [number, number];
}

/** One worker's row of the table. */
export interface WorkerRow {
  host: string;
  address: string;
  worker: string;
  pids: number[];
  /** Connections it served in the steady phase, and in all phases. */
  steady: number;
  total: number;
}

/** A whole run. */
export interface HostsResult {
  hosts: { label: string; address: string; ns: string }[];
  port: number;
  checks: CheckSettings;
  config: string;
  phases: PhaseResult[];
  table: WorkerRow[];
  /** Host B: ms from SIGKILL to marked down; from listening again to up. */
  detection: {
    downMs?: number;
    upAfterListeningMs?: number;
    upAfterRestartMs?: number;
  };
  stats: ServerStat[];
  /** HAProxy's log lines about checks and servers, with ms since the run began. */
  haproxyLog: string[];
  /** What teardown could not remove (empty: all gone). */
  leftover: string[];
  /** Pids of every process the run started or saw in a namespace. */
  pids: number[];
}

/** What stops the run here, one line each with how to get it. */
export async function hostsMissing(): Promise<string[]> {
  const missing = await netnsMissing();
  const noHaproxy = await haproxyMissing();
  if (noHaproxy) missing.push(noHaproxy);
  try {
    await Deno.stat(join(ROOT, "npm", "esm", "bin.js"));
  } catch {
    missing.push(
      "no npm build (the runner's bin): `deno run -A scripts/build_npm.ts --no-test`",
    );
  }
  return missing;
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** `reuseport serve --parallel` inside a host's namespace. */
interface Runner {
  pid: number;
  started: number;
  exited: Promise<Deno.CommandStatus>;
  done: boolean;
}

/** Pids of the processes whose command line names a file under `dir`. */
async function withFiles(dir: string): Promise<number[]> {
  if (!dir) return [];
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`);
      if (cmdline.includes(dir + "/")) pids.push(Number(entry.name));
    } catch {
      // Gone already.
    }
  }
  return pids;
}

/**
 * Everything a run made, so that teardown finds it after a failure or a
 * Ctrl-C as well.
 */
class Session {
  dir = "";
  hosts: NetnsHost[] = [];
  haproxy?: Haproxy;
  runners = new Map<string, Runner>();
  /** pid -> host label and worker number, as seen in the namespaces. */
  pids = new Map<number, { host: string; worker: string }>();
  seen = new Set<number>();
  /** Ends a load still running. */
  loads = new AbortController();
  private polling?: ReturnType<typeof setTimeout>;
  private torn?: Promise<string[]>;

  /** Notes every process in the namespaces, with its worker number. */
  async poll(): Promise<void> {
    for (const host of this.hosts) {
      for (const pid of await pidsIn(host.ns)) {
        this.seen.add(pid);
        if (this.pids.has(pid)) continue;
        try {
          const env = await Deno.readTextFile(`/proc/${pid}/environ`);
          const worker = /(?:^|\0)REUSEPORT_WORKER=(\d+)/.exec(env)?.[1];
          if (worker) this.pids.set(pid, { host: host.label, worker });
        } catch {
          // Gone already.
        }
      }
    }
  }

  watch(): void {
    const tick = async () => {
      await this.poll();
      if (this.torn === undefined) this.polling = setTimeout(tick, 200);
    };
    tick();
  }

  teardown(): Promise<string[]> {
    this.torn ??= (async () => {
      clearTimeout(this.polling);
      this.loads.abort();
      await this.haproxy?.stop();
      // HAProxy, should the teardown have come while it was starting.
      for (const pid of await withFiles(this.dir)) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // Exited meanwhile.
        }
      }
      for (const runner of this.runners.values()) {
        if (!runner.done) Deno.kill(runner.pid, "SIGKILL");
        await runner.exited;
      }
      const left = await removeHosts(this.hosts);
      for (const pid of this.seen) if (alive(pid)) left.push(`process ${pid}`);
      if (this.haproxy && alive(this.haproxy.pid)) {
        left.push(`haproxy ${this.haproxy.pid}`);
      }
      if (this.dir) await Deno.remove(this.dir, { recursive: true });
      return left;
    })();
    return this.torn;
  }
}

/** The run in progress (for a Ctrl-C: see `abortHosts()`). */
let current: Session | undefined;

/**
 * Tears down the run in progress, if any (the CLI calls it on Ctrl-C);
 * resolves what could not be removed.
 */
export function abortHosts(): Promise<string[]> {
  return current?.teardown() ?? Promise.resolve([]);
}

/** Starts the runner in `host`'s namespace, its output to a log file. */
function startRunner(
  session: Session,
  host: NetnsHost,
  options: HostsOptions,
): Runner {
  const logFile = join(session.dir, `runner-${host.label}.log`);
  const child = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      host.ns,
      options.node,
      join(ROOT, "npm", "esm", "bin.js"),
      "serve",
      `--parallel=${options.workers}`,
      // A pid per worker, on every Node (24 would pick threads): the table
      // tells workers apart by the pid that answered.
      "--processes",
      join(ROOT, "examples", "http_app.mjs"),
    ],
    cwd: ROOT,
    env: { PORT: String(APP_PORT), HOST: host.address },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // One handle per stream: a stream locks the file's writable side.
  const copied = Promise.all([child.stdout, child.stderr].map(async (from) => {
    const to = await Deno.open(logFile, { append: true, create: true });
    await from.pipeTo(to.writable);
  })).catch(() => {
    // The log is for diagnosis only; the runner's exit says what matters.
  });
  const runner: Runner = {
    pid: child.pid,
    started: Date.now(),
    done: false,
    exited: child.status.then(async (status) => {
      runner.done = true;
      await copied;
      return status;
    }),
  };
  session.runners.set(host.label, runner);
  return runner;
}

/** The last lines of a runner's log, for an error message. */
async function runnerLog(session: Session, host: NetnsHost): Promise<string> {
  try {
    const text = await Deno.readTextFile(
      join(session.dir, `runner-${host.label}.log`),
    );
    return text.trim().split("\n").slice(-10).join("\n");
  } catch {
    return "(no log)";
  }
}

/**
 * Resolves when `host`'s app accepts a connection (ms since epoch); throws,
 * with the end of its runner's log, once the runner exited or `timeoutMs` passed.
 */
async function listening(
  session: Session,
  host: NetnsHost,
  timeoutMs: number,
): Promise<number> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      const conn = await Deno.connect({
        hostname: host.address,
        port: APP_PORT,
      });
      conn.close();
      return Date.now();
    } catch (err) {
      const gone = session.runners.get(host.label)?.done;
      if (gone || Date.now() > until) {
        throw new Error(
          `host ${host.label} (${host.address}:${APP_PORT}) not listening ${
            gone ? "and its runner exited" : `after ${timeoutMs} ms`
          }: ${(err as Error).message}\nits runner's log:\n${await runnerLog(
            session,
            host,
          )}`,
        );
      }
      await sleep(20);
    }
  }
}

/**
 * Runs `seconds` of load through HAProxy while `act` does the phase's
 * events; `act` gets the time the load began and a `mark` to note events.
 */
async function phase(
  name: string,
  session: Session,
  port: number,
  options: HostsOptions,
  seconds: number,
  act: (
    began: number,
    mark: (what: string, at?: number) => void,
  ) => Promise<void>,
): Promise<PhaseResult & { began: number; load: LoadResult }> {
  options.log(`phase: ${name} (${seconds} s of load)`);
  const began = Date.now();
  const marks: Mark[] = [];
  const mark = (what: string, at = Date.now()): void => {
    marks.push({ at: at - began, what });
    options.log(`  +${at - began} ms: ${what}`);
  };
  const [load] = await Promise.all([
    runLoad(options.node, {
      port,
      connections: 0,
      requests: REQUESTS,
      concurrency: options.concurrency,
      seconds,
      timeout: CLIENT_TIMEOUT_MS,
      trace: true,
    }, session.loads.signal),
    act(began, mark),
  ]);
  await session.poll();
  marks.sort((x, y) => x.at - y.at);
  const outcome: Outcome = {
    served: 0,
    refused: 0,
    reset: 0,
    timedOut: 0,
    other: 0,
    errors: {},
  };
  const byHost: Record<string, number> = {};
  const failures: PhaseResult["failures"] = [];
  for (const c of load.trace ?? []) {
    if (c.error) {
      outcome[failureKind(c.error)]++;
      outcome.errors[c.error] = (outcome.errors[c.error] ?? 0) + 1;
      failures.push({
        opened: c.opened - began,
        closed: c.closed - began,
        error: c.error,
      });
      continue;
    }
    outcome.served++;
    for (const pid of c.pids) {
      const host = session.pids.get(pid)?.host ?? "?";
      byHost[host] = (byHost[host] ?? 0) + 1;
    }
  }
  return {
    name,
    outcome,
    byHost,
    marks,
    failures,
    began,
    load,
  };
}

/** Counts of served connections by pid, over the given loads. */
function byPid(loads: LoadResult[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const load of loads) {
    for (const c of load.trace ?? []) {
      if (c.error) continue;
      for (const pid of c.pids) counts.set(pid, (counts.get(pid) ?? 0) + 1);
    }
  }
  return counts;
}

/** Failures open at no moment of `[from, to]`. */
function outside(result: PhaseResult, from: number, to: number): number {
  result.window = [from, to];
  result.outsideWindow =
    result.failures.filter((f) => f.closed < from || f.opened > to).length;
  return result.outsideWindow;
}

/** Runs the whole thing; tears everything down before it resolves or throws. */
export async function runHosts(
  given: Partial<HostsOptions> = {},
): Promise<HostsResult> {
  const options = { ...DEFAULTS, ...given };
  const missing = await hostsMissing();
  if (missing.length) {
    throw new Error(`cannot run here:\n  - ${missing.join("\n  - ")}`);
  }
  if (current) throw new Error("a run is in progress already");
  const session = current = new Session();
  try {
    return await run(session, options);
  } finally {
    await session.teardown();
    current = undefined;
  }
}

async function run(
  session: Session,
  options: HostsOptions,
): Promise<HostsResult> {
  const log = options.log;
  session.dir = await Deno.makeTempDir({ prefix: "reuseport-hosts-" });
  log(`files in ${session.dir}`);
  await createHosts(["a", "b"], session.hosts);
  const [a, b] = session.hosts;
  for (const h of session.hosts) {
    log(`host ${h.label}: namespace ${h.ns}, ${h.address} (veth ${h.link})`);
  }
  session.watch();
  for (const h of session.hosts) startRunner(session, h, options);
  for (const h of session.hosts) await listening(session, h, 15_000);
  const port = freePort();
  const servers: Backend[] = session.hosts.map((h) => ({
    name: h.label,
    address: h.address,
    port: APP_PORT,
  }));
  const config = haproxyConfig(
    port,
    servers,
    join(session.dir, "haproxy.sock"),
    options.checks,
  );
  session.haproxy = await startHaproxy(session.dir, config);
  const haproxy = session.haproxy;
  log(`haproxy ${haproxy.pid} on 127.0.0.1:${port}`);
  // Servers start up; the first passed checks may or may not be logged.
  const upUntil = Date.now() + 10_000;
  while (Date.now() < upUntil) {
    const stats = await haproxy.stats();
    if (stats.every((s) => s.status === "UP")) break;
    await sleep(50);
  }

  const phases: (PhaseResult & { began: number; load: LoadResult })[] = [];
  const measure = (
    name: string,
    seconds: number,
    act: Parameters<typeof phase>[5] = () => Promise.resolve(),
  ) => phase(name, session, port, options, seconds, act);
  const steady = await measure("steady load", options.seconds);
  phases.push(steady);

  // Host A: a rolling reload, as the runner's SIGHUP is meant to do it.
  const reload = await measure(
    "host A: rolling reload (SIGHUP to its runner)",
    options.seconds + 2,
    async (_began, mark) => {
      await sleep(1_000);
      const runner = session.runners.get("a")!;
      Deno.kill(runner.pid, "SIGHUP");
      mark(`SIGHUP to host A's runner (pid ${runner.pid})`);
      const at = Date.now();
      const down = await haproxy.waitFor(
        "a",
        "DOWN",
        at,
        options.seconds * 1000,
      );
      if (down) mark(`haproxy: A marked DOWN`, down.at);
      const up = down &&
        await haproxy.waitFor("a", "UP", down.at, 1_000);
      if (up) mark("haproxy: A marked UP", up.at);
    },
  );
  const afterHup = session.runners.get("a")!;
  if (afterHup.done) {
    const status = await afterHup.exited;
    throw new Error(
      `host A's runner exited on SIGHUP (${
        status.signal ? `signal ${status.signal}` : `code ${status.code}`
      }) instead of reloading`,
    );
  }
  phases.push(reload);

  if (options.restartA) {
    const restart = await measure(
      "host A: restart of its runner (fallback for comparison: SIGTERM, start again)",
      options.seconds + 2,
      async (_began, mark) => {
        await sleep(1_000);
        const runner = session.runners.get("a")!;
        const stopped = Date.now();
        Deno.kill(runner.pid, "SIGTERM");
        mark(`SIGTERM to host A's runner (pid ${runner.pid})`, stopped);
        const status = await runner.exited;
        mark(`runner exited (code ${status.code})`);
        startRunner(session, a, options);
        mark("runner started again");
        mark("host A listening", await listening(session, a, 15_000));
        const down = haproxy.changes.find((c) =>
          c.server === "a" && c.state === "DOWN" && c.at >= stopped
        );
        if (down) mark("haproxy: A marked DOWN", down.at);
        const up = await haproxy.waitFor("a", "UP", stopped, 5_000);
        if (up) mark("haproxy: A marked UP", up.at);
      },
    );
    const down = restart.marks.find((m) => m.what.startsWith("SIGTERM"));
    const back = restart.marks.find((m) => m.what === "host A listening");
    if (down && back) outside(restart, down.at, back.at);
    phases.push(restart);
  }

  // Host B: killed hard (the runner and its workers: SIGKILL), then started
  // again; how long HAProxy takes to take it out and to put it back.
  const detection: HostsResult["detection"] = {};
  const kill = await measure(
    "host B: hard kill (SIGKILL to its runner and workers), then restart",
    options.seconds + 4,
    async (_began, mark) => {
      await sleep(1_000);
      const { pids, at: killed } = await signalAll(b.ns, "SIGKILL");
      mark(
        `SIGKILL to every process of host B (${pids.join(", ")})`,
        killed,
      );
      const down = await haproxy.waitFor("b", "DOWN", killed, 5_000);
      if (down) {
        detection.downMs = down.at - killed;
        mark("haproxy: B marked DOWN", down.at);
      } else mark("haproxy did not mark B down within 5 s");
      await session.runners.get("b")!.exited;
      await sleep(500);
      const restarted = Date.now();
      startRunner(session, b, options);
      mark("runner started again");
      const ready = await listening(session, b, 15_000);
      mark("host B listening", ready);
      const up = await haproxy.waitFor("b", "UP", ready - 1, 10_000);
      if (up) {
        detection.upAfterListeningMs = up.at - ready;
        detection.upAfterRestartMs = up.at - restarted;
        mark("haproxy: B marked UP", up.at);
      } else mark("haproxy did not mark B up within 10 s");
    },
  );
  {
    const killed = kill.marks.find((m) => m.what.startsWith("SIGKILL"));
    const down = kill.marks.find((m) => m.what === "haproxy: B marked DOWN");
    if (killed) outside(kill, killed.at, (down ?? killed).at);
  }
  phases.push(kill);

  await session.poll();
  const counts = byPid(phases.map((p) => p.load));
  const steadyCounts = byPid([steady.load]);
  const rows = new Map<string, WorkerRow>();
  for (const [pid, who] of session.pids) {
    const host = session.hosts.find((h) => h.label === who.host)!;
    const key = `${who.host}/${who.worker}`;
    const row = rows.get(key) ?? {
      host: who.host,
      address: host.address,
      worker: who.worker,
      pids: [],
      steady: 0,
      total: 0,
    };
    const total = counts.get(pid) ?? 0;
    // Pids that served nothing (the runner's helpers) are left out.
    if (total === 0) continue;
    row.pids.push(pid);
    row.steady += steadyCounts.get(pid) ?? 0;
    row.total += total;
    rows.set(key, row);
  }
  const stats = await haproxy.stats();
  const result: HostsResult = {
    hosts: session.hosts.map(({ label, address, ns }) => ({
      label,
      address,
      ns,
    })),
    port,
    checks: options.checks,
    config,
    phases: phases.map(({ began: _b, load: _l, ...p }) => p),
    table: [...rows.values()].sort((x, y) =>
      x.host.localeCompare(y.host) || Number(x.worker) - Number(y.worker)
    ),
    detection,
    stats,
    haproxyLog: haproxy.log.filter((l) => /Server|[Cc]heck/.test(l)),
    leftover: [],
    pids: [],
  };
  result.leftover = await session.teardown();
  result.pids = [...session.seen];
  return result;
}
