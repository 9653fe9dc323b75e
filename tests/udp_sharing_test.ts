/**
 * UDP `reusePort` across worker threads and the parallel runner's processes,
 * per strategy: 4 workers of `tests/fixtures/udp_app.mjs` on one port (in
 * threads of a program whose main thread never loads the package, and as
 * `serveParallel` processes), 32 flows × 20 datagrams, each answered by
 * exactly one worker, from the shared port; then a flood, counted. The
 * kernel strategy binds a socket per worker (`SO_REUSEPORT`); the emulated
 * one keeps one socket in the owner (the first thread, the runner's
 * primary), which hands each datagram to a waiting worker and sends their
 * answers. Where a runtime cannot do a case, the error it gives is
 * asserted. Loopback only; every program and worker is stopped.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { createInterface } from "node:readline";
import { afterEach, test, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import {
  errors,
  listenDatagram,
  type ParallelServer,
  serveParallel,
  setStrategy,
} from "../mod.ts";
import { udpStrategyFor } from "../ops/mod.ts";
import { runtime } from "../ops/runtime.ts";
import {
  type UdpAnswers,
  udpAsk,
  udpFloodAnswered,
  type UdpStrategy,
} from "../tools/udp_balancing.ts";
import { modUrl, onDeno } from "./_child.ts";

afterEach(() => setStrategy(undefined));

/** A fixture next to this file (source, or the build's copy of it). */
function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

const APP = fixture("udp_app.mjs");
const WORKERS = 4;

/** Whether the kernel strategy exists here for UDP (what auto picks). */
function udpKernelHere(): boolean {
  setStrategy("auto");
  try {
    return udpStrategyFor({ reusePort: true }).strategy === "kernel";
  } finally {
    setStrategy(undefined);
  }
}

const kernel = udpKernelHere();
/** Threads share one socket where the sharing between threads exists (Node 24 and later). */
const threadsShare = !onDeno && runtime().handles?.threads === true;
/** The runner's primary holds a shared socket where it can pass connections (Node, Bun). */
const processesShare = !onDeno && runtime().handles !== undefined;

/** A UDP port free a moment ago. */
function freeUdpPort(): number {
  const probe = listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  probe.close();
  return probe.addr.port;
}

/** The answers of 4 workers to 32 flows × 20 datagrams, checked: each exactly once, from the port asked. */
function assertAnswered(answers: UdpAnswers): void {
  assert.equal(answers.wrong, 0, JSON.stringify(answers));
  assert.equal(answers.exactlyOnce, answers.sent);
  assert.equal(answers.otherSource, 0, "answers come from the shared port");
  const counts = Object.values(answers.counts);
  assert.equal(counts.length, WORKERS, JSON.stringify(answers.counts));
  for (const count of counts) {
    assert.ok(count > 0, JSON.stringify(answers.counts));
  }
}

/** The figures of one case, for docs/STRATEGIES.md. */
async function flood(t: TestContext, port: number, label: string) {
  const seen = await udpFloodAnswered(port);
  const byWorker = Object.values(seen.counts).reduce((a, b) => a + b, 0);
  assert.equal(byWorker, seen.answered);
  assert.ok(
    seen.answered > 0 && seen.answered <= seen.sent,
    `${seen.answered}`,
  );
  t.diagnostic(
    `${label} flood: ${seen.answered} of ${seen.sent} answered (${
      Object.entries(seen.counts).map(([w, n]) => `w${w} ${n}`).join(", ")
    }) in ${Math.round(seen.ms)} ms of sending`,
  );
}

/** The threads program, started: its port, or the first worker's error. */
interface Threads {
  port?: number;
  error?: string;
  stop(): Promise<void>;
}

function startThreads(strategy: UdpStrategy): Promise<Threads> {
  const program = fixture("udp_threads_program.mjs");
  const args = [program, modUrl, new URL(`file://${APP}`).href, `${WORKERS}`];
  const child = spawn(
    process.execPath,
    onDeno ? ["run", "-A", ...args] : args,
    {
      env: { ...process.env, REUSEPORT_STRATEGY: strategy },
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => resolve())
  );
  const stop = async () => {
    child.stdin!.end("stop\n");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", (line) => {
      lines.close();
      resolve({ ...JSON.parse(line), stop });
    });
    exited.then(() => reject(new Error("the threads program exited")));
  });
}

for (const strategy of ["emulated", "kernel"] as UdpStrategy[]) {
  const works = strategy === "kernel" ? kernel : threadsShare;
  test(
    works
      ? `threads (${strategy}): 4 worker threads on one UDP port; 32 flows × 20 datagrams each answered exactly once, from the shared port`
      : `threads (${strategy}): not here; the second worker's bind says why`,
    { timeout: 90_000 },
    async (t) => {
      const threads = await startThreads(strategy);
      try {
        if (!works) {
          assert.ok(threads.error, "a worker bound where it cannot share");
          assert.match(
            threads.error,
            strategy === "kernel"
              ? /^NotSupported: .*the kernel strategy cannot work here/
              : /^AddrInUse: .*another (listener|socket) holds this address, and if it is in another (worker )?thread/,
          );
          t.diagnostic(threads.error);
          return;
        }
        assert.equal(threads.error, undefined);
        const answers = await udpAsk(threads.port!);
        assertAnswered(answers);
        t.diagnostic(
          `threads ${strategy}: ${JSON.stringify(answers.counts)}`,
        );
        await flood(t, threads.port!, `threads ${strategy}`);
      } finally {
        await threads.stop();
      }
    },
  );
}

/**
 * Whether the runner shares a UDP port in `mode` under `strategy` here: the
 * kernel's wherever it balances UDP (Deno's runner has no threads); the
 * emulated where the primary (processes) or the threads hold a socket for
 * the others.
 */
function runnerShares(mode: "processes" | "threads", strategy: UdpStrategy) {
  if (strategy === "kernel") return kernel && !(onDeno && mode === "threads");
  return mode === "processes" ? processesShare : threadsShare;
}

/**
 * Runs `fn` with a free UDP port and the runner's workers' environment (the
 * port, the module's URL, `REUSEPORT_STRATEGY`) set, removed after.
 */
async function withUdpApp(
  strategy: UdpStrategy,
  fn: (port: number) => Promise<void>,
): Promise<void> {
  const port = freeUdpPort();
  const env = {
    PORT: String(port),
    UDP_APP_MODULE: modUrl,
    REUSEPORT_STRATEGY: strategy,
  };
  Object.assign(process.env, env);
  try {
    await fn(port);
  } finally {
    for (const name of Object.keys(env)) delete process.env[name];
  }
}

for (const mode of ["processes", "threads"] as const) {
  for (const strategy of ["emulated", "kernel"] as UdpStrategy[]) {
    const works = runnerShares(mode, strategy);
    test(
      works
        ? `runner ${mode} (${strategy}): serveParallel of udp_app.mjs in 4 ${mode}; 32 flows × 20 datagrams each answered exactly once, from the shared port`
        : `runner ${mode} (${strategy}): not here; serveParallel says why`,
      { timeout: 120_000 },
      (t) =>
        withUdpApp(strategy, async (port) => {
          let server: ParallelServer | undefined;
          try {
            try {
              server = await serveParallel({
                file: APP,
                workers: WORKERS,
                mode,
              });
            } catch (err) {
              assert.ok(!works, `${err}`);
              // The runner's own refusal, or each worker's bind (cannot load).
              assert.match(
                `${err}`,
                /NotSupported.*(the kernel strategy cannot work here|REUSEPORT_STRATEGY=emulated: the parallel runner cannot use it here|threads cannot share a socket here|the parallel runner's threads need)/,
              );
              t.diagnostic(`${err}`);
              return;
            }
            assert.ok(works, "the runner started where it cannot share");
            const answers = await udpAsk(port);
            assertAnswered(answers);
            t.diagnostic(
              `runner ${mode} ${strategy}: ${JSON.stringify(answers.counts)}`,
            );
            await flood(t, port, `runner ${mode} ${strategy}`);
          } finally {
            await server?.close();
          }
        }),
    );
  }
}

test(
  processesShare
    ? "runner processes (emulated): a rolling reload while flows keep asking; every datagram answered exactly once"
    : "runner processes (emulated) through a reload: not here; serveParallel says why",
  { timeout: 120_000 },
  (t) =>
    withUdpApp("emulated", async (port) => {
      if (!processesShare) {
        await assert.rejects(
          serveParallel({ file: APP, workers: 2, mode: "processes" }),
          (err) =>
            err instanceof errors.NotSupported &&
            /REUSEPORT_STRATEGY=emulated/.test(err.message),
        );
        return;
      }
      const server = await serveParallel({
        file: APP,
        workers: 2,
        mode: "processes",
      });
      try {
        let reloaded = false;
        const reload = server.reload().finally(() => reloaded = true);
        let sent = 0;
        let wrong = 0;
        let rounds = 0;
        // Rounds of 8 new flows × 2 datagrams until both workers are new: a
        // datagram not answered within 2 s counts as lost.
        while (!reloaded) {
          const answers = await udpAsk(port, 8, 2, 2_000);
          sent += answers.sent;
          wrong += answers.wrong;
          rounds++;
        }
        const changes = await reload;
        assert.equal(changes.length, 2);
        // And the new workers answer.
        const after = await udpAsk(port, 8, 2, 2_000);
        assert.ok(rounds > 0);
        assert.equal(
          wrong + after.wrong,
          0,
          `${wrong} of ${sent} not answered exactly once`,
        );
        assert.equal(after.exactlyOnce, after.sent);
        t.diagnostic(
          `${sent} datagrams in ${rounds} rounds through the reload: each answered once`,
        );
      } finally {
        await server.close();
      }
    }),
);
