/**
 * `reusePort` and `loadBalanced` for TLS, exactly as for TCP: listeners of
 * one process sharing a TLS port (each connection served once, by one of
 * them, with its handshake), one closed under load losing nothing (emulated);
 * two worker threads sharing one TLS port, each handshake done in the worker
 * that accepted (Node 24 and later move sockets between threads; elsewhere the
 * same `AddrInUse` as TCP); and the parallel runner serving a TLS program
 * (`tests/fixtures/tls_app.mjs`) on both workers under load and through a
 * rolling reload.
 */
import assert from "node:assert/strict";
import process from "node:process";
import { after, afterEach, test, type TestContext } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { fileURLToPath } from "node:url";
import {
  errors,
  listenTls,
  type ParallelServer,
  serveParallel,
  setStrategy,
  strategyFor,
  type TlsConn,
  type TlsListener,
} from "../mod.ts";
import { runtime } from "../ops/runtime.ts";
import {
  freePort,
  LOAD_NODE,
  reloadUnderLoad,
  runLoad,
  startRunner,
  strategyHere,
} from "../tools/balancing.ts";
import { removeTestCerts, testCerts } from "./_certs.ts";
import { modUrl, onDeno } from "./_child.ts";
import {
  runThreadsProgram,
  threadFailures,
  type ThreadsSeen,
} from "./_threads.ts";

after(removeTestCerts);
afterEach(() => setStrategy(undefined));

/** A fixture next to this file (source, or the build's copy of it). */
function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

/** The kernel balances `reusePort` sockets here (Linux; Node >= 22.12, Deno, Bun). */
const kernel = strategyHere("kernel");

// ---------------------------------------------------------------------------
// One process

/** Serves `listener` until it closes: handshake, the client's id line, `tag:id` back. */
async function serveTags(
  listener: TlsListener,
  tag: string,
  served: Map<string, string[]>,
): Promise<void> {
  const one = async (conn: TlsConn): Promise<void> => {
    try {
      await conn.handshake();
      const buf = new Uint8Array(64);
      let text = "";
      while (!text.includes("\n")) {
        const n = await conn.read(buf);
        if (n === null) return;
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
      const id = text.trim();
      served.set(id, [...served.get(id) ?? [], tag]);
      await conn.write(new TextEncoder().encode(`${tag}:${id}\n`));
    } finally {
      conn.close();
    }
  };
  const pending: Promise<void>[] = [];
  for await (const conn of listener) pending.push(one(conn).catch(() => {}));
  await Promise.all(pending);
}

/** A node:tls client (verifying against the test CA): sends `id`, resolves the answer, or how it failed. */
function askTls(port: number, id: string): Promise<string> {
  const { ca } = testCerts();
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: "127.0.0.1", port, ca: ca.cert });
    let text = "";
    socket.setTimeout(10_000, () => {
      socket.destroy();
      resolve("timeout");
    });
    socket.once("secureConnect", () => socket.write(`${id}\n`));
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => text += chunk);
    socket.on(
      "error",
      (err: NodeJS.ErrnoException) =>
        resolve(`error ${err.code ?? err.message}`),
    );
    socket.on("close", () => resolve(text.trim() || "empty"));
  });
}

/** `total` clients, 10 at a time; `midway` runs once half have started. */
async function drive(
  port: number,
  total: number,
  midway?: () => void,
): Promise<Map<string, string>> {
  const answers = new Map<string, string>();
  let next = 0;
  await Promise.all(Array.from({ length: 10 }, async () => {
    while (next < total) {
      const id = `c${next++}`;
      if (next === total / 2) midway?.();
      answers.set(id, await askTls(port, id));
    }
  }));
  return answers;
}

const inProcess = [
  { option: "loadBalanced", strategy: "emulated" as const },
  { option: "reusePort", strategy: "emulated" as const },
  { option: "reusePort", strategy: "kernel" as const },
];

for (const { option, strategy } of inProcess) {
  test(
    `one process (${option}, ${strategy}): two TLS listeners on one port, 200 node:tls clients, each served exactly once, both serve`,
    { timeout: 60_000 },
    async (t: TestContext) => {
      const { server } = testCerts();
      const options = { [option]: true, cert: server.cert, key: server.key };
      setStrategy(strategy);
      if (!kernel.ok && strategy === "kernel") {
        assert.throws(
          () => listenTls({ hostname: "127.0.0.1", port: 0, ...options }),
          (err: Error) =>
            err instanceof errors.NotSupported &&
            /the kernel strategy cannot work here/.test(err.message),
        );
        return;
      }
      const a = listenTls({ hostname: "127.0.0.1", port: 0, ...options });
      const b = listenTls({
        hostname: "127.0.0.1",
        port: a.addr.port,
        ...options,
      });
      assert.equal(
        strategyFor({ [option]: true }).strategy,
        option === "loadBalanced" ? "emulated" : strategy,
      );
      const served = new Map<string, string[]>();
      const loops = [serveTags(a, "a", served), serveTags(b, "b", served)];
      let answers: Map<string, string>;
      try {
        answers = await drive(a.addr.port, 200);
      } finally {
        a.close();
        b.close();
        await Promise.all(loops);
      }
      for (const [id, answer] of answers) {
        assert.match(answer, new RegExp(`^[ab]:${id}$`), `client ${id}`);
        assert.deepEqual(served.get(id), [answer[0]], `${id} served once`);
      }
      assert.equal(served.size, 200);
      const count = (tag: string) =>
        [...answers.values()].filter((x) => x[0] === tag).length;
      assert.ok(count("a") > 0 && count("b") > 0, `a ${count("a")}`);
      t.diagnostic(`200 TLS connections: a ${count("a")}, b ${count("b")}`);
    },
  );
}

for (const option of ["loadBalanced", "reusePort"]) {
  test(
    `one process (${option}, emulated): one TLS listener closed under load; not one connection is lost`,
    { timeout: 60_000 },
    async (t: TestContext) => {
      const { server } = testCerts();
      const options = { [option]: true, cert: server.cert, key: server.key };
      setStrategy("emulated");
      const a = listenTls({ hostname: "127.0.0.1", port: 0, ...options });
      const b = listenTls({
        hostname: "127.0.0.1",
        port: a.addr.port,
        ...options,
      });
      const served = new Map<string, string[]>();
      const loops = [serveTags(a, "a", served), serveTags(b, "b", served)];
      let answers: Map<string, string>;
      let aOpen = true;
      const closeA = () => {
        if (aOpen) a.close();
        aOpen = false;
      };
      try {
        answers = await drive(a.addr.port, 400, closeA);
      } finally {
        closeA();
        b.close();
        await Promise.all(loops);
      }
      const failed = [...answers].filter(([id, x]) => !x.endsWith(`:${id}`));
      assert.deepEqual(failed, [], "connections that failed");
      assert.equal(answers.size, 400);
      for (const [id, tags] of served) assert.equal(tags.length, 1, id);
      const count = (tag: string) =>
        [...answers.values()].filter((x) => x[0] === tag).length;
      assert.ok(count("a") > 0, "a served before it closed");
      t.diagnostic(
        `400 TLS connections, a closed at 200: a ${count("a")}, b ${
          count("b")
        }`,
      );
    },
  );
}

// ---------------------------------------------------------------------------
// Worker threads

/** `tests/fixtures/threads_program.mjs` with TLS (the test certificates), in a child. */
function runThreads(
  option: string,
  phase: string,
  strategy: string,
): Promise<ThreadsSeen> {
  const { server, ca } = testCerts();
  return runThreadsProgram(option, phase, { REUSEPORT_STRATEGY: strategy }, [
    server.certFile,
    server.keyFile,
    ca.certFile,
  ]);
}

const canMove = !onDeno && runtime().handles?.threads === true;
/** The `AddrInUse` of a second thread where threads cannot share one socket, as for TCP. */
const cannotShare = onDeno
  ? /^AddrInUse: .*another worker thread of this process.*deno serve --parallel/
  : /^AddrInUse: .*thread.*processes/;
const threadCases = [
  { option: "loadBalanced", strategy: "auto", moves: true },
  { option: "reusePort", strategy: "emulated", moves: true },
  { option: "reusePort", strategy: "kernel", moves: false },
];

for (const { option, strategy, moves } of threadCases) {
  test(
    `threads (${option}, REUSEPORT_STRATEGY=${strategy}): two workers share one TLS port; 400 connections answered, by both, each after its handshake in that worker`,
    { timeout: 90_000 },
    async (t: TestContext) => {
      const seen = await runThreads(option, "share", strategy);
      if (!moves && !kernel.ok) {
        assert.match(seen.error ?? "", /^NotSupported: .*kernel strategy/);
        return;
      }
      if (moves && !canMove) {
        assert.ok(
          seen.error,
          `the second worker listened: ${JSON.stringify(seen)}`,
        );
        assert.match(seen.error, cannotShare);
        return;
      }
      assert.equal(seen.error, undefined);
      assert.equal(threadFailures(seen.before), 0, JSON.stringify(seen.before));
      assert.equal(seen.before.w1 + seen.before.w2, 400);
      assert.ok(
        seen.before.w1 > 0 && seen.before.w2 > 0,
        JSON.stringify(seen.before),
      );
      t.diagnostic(
        `400 TLS connections: w1 ${seen.before.w1}, w2 ${seen.before.w2}`,
      );
    },
  );
}

for (const option of ["loadBalanced", "reusePort"]) {
  test(
    `threads (${option}, emulated): the worker holding the TLS port closes its listener under load; not one connection fails`,
    { timeout: 90_000 },
    async (t: TestContext) => {
      const seen = await runThreads(option, "handover", "emulated");
      if (!canMove) {
        assert.match(seen.error ?? "", cannotShare);
        return;
      }
      assert.equal(
        threadFailures(seen.before) + threadFailures(seen.after),
        0,
        JSON.stringify(seen),
      );
      // w1 may still answer, after its close was asked for, a connection it
      // had accepted before (its handshake takes a while): served, not lost.
      assert.ok((seen.after.w2 ?? 0) > 0, JSON.stringify(seen.after));
      assert.equal(seen.last, "w2");
      t.diagnostic(
        `800 TLS connections, w1 closed at 400: before ${
          JSON.stringify(seen.before)
        }, after ${JSON.stringify(seen.after)}`,
      );
    },
  );
}

// ---------------------------------------------------------------------------
// The parallel runner

/** `tests/fixtures/tls_app.mjs`, answered over TLS by the load. */
const TLS_APP = { file: fixture("tls_app.mjs"), tls: true };

/** What tls_app.mjs reads: this package as the tests see it, the test certificate. */
function tlsAppEnv(): Record<string, string> {
  const { server } = testCerts();
  return {
    TLS_APP_MODULE: modUrl,
    TLS_CERT_FILE: server.certFile,
    TLS_KEY_FILE: server.keyFile,
  };
}

const runnerCases = [
  { mode: "processes" as const, strategy: "emulated" },
  { mode: "processes" as const, strategy: "kernel" },
  { mode: "threads" as const, strategy: "emulated" },
];

// `reuseport serve` runs the npm build, so these run on Node and Bun; on
// Deno, the serveParallel test below covers the runner.
const cliRunnerCases = onDeno ? [] : runnerCases;

for (const { mode, strategy } of cliRunnerCases) {
  test(
    `runner (${mode}, ${strategy}): reuseport serve --parallel=2 tls_app.mjs spreads 400 TLS connections (2 requests each) over both workers, 0 failed`,
    { timeout: 90_000 },
    async (t: TestContext) => {
      const env = { ...tlsAppEnv(), REUSEPORT_STRATEGY: strategy };
      const started = await startRunner(
        process.execPath,
        2,
        mode,
        env,
        TLS_APP,
      ).catch((err: Error) => err);
      if (started instanceof Error) {
        // Where this cannot run, the runner says why and exits, as for TCP.
        const why = strategy === "kernel"
          ? /the kernel strategy cannot work/
          : /threads cannot share a socket here/;
        assert.ok(
          strategy === "kernel" ? !kernel.ok : !canMove,
          started.message,
        );
        assert.match(started.message, why);
        return;
      }
      try {
        assert.match(started.stderr(), new RegExp(`strategy ${strategy}`));
        const load = await runLoad(LOAD_NODE, {
          port: started.port,
          connections: 400,
          requests: 2,
          concurrency: 16,
          tls: true,
        });
        assert.equal(load.failed, 0, JSON.stringify(load.errors));
        assert.equal(load.requests, 800);
        const one = load.workers["1"]?.connections ?? 0;
        const two = load.workers["2"]?.connections ?? 0;
        assert.equal(one + two, 400);
        assert.ok(one > 0 && two > 0, JSON.stringify(load.workers));
        t.diagnostic(`400 TLS connections: worker 1 ${one}, worker 2 ${two}`);
      } finally {
        await started.stop();
      }
    },
  );
}

if (!onDeno) {
  test(
    "runner (processes): a rolling reload (SIGHUP, twice) of reuseport serve --parallel=2 tls_app.mjs under 16 back-to-back TLS clients: 0 failed",
    { timeout: 90_000 },
    async (t: TestContext) => {
      const { load, pids } = await reloadUnderLoad(
        process.execPath,
        "processes",
        tlsAppEnv(),
        2,
        8,
        TLS_APP,
      );
      assert.equal(load.failed, 0, JSON.stringify(load.errors));
      assert.ok(load.requests > 100, `${load.requests} answered`);
      for (const id of ["1", "2"]) {
        assert.equal(new Set(pids[id]).size, 3, `worker ${id}: ${pids[id]}`);
        assert.ok(load.workers[id].pids.includes(pids[id][1]), `${pids[id]}`);
      }
      t.diagnostic(
        `${load.connections} TLS connections through 2 reloads: worker 1 ${
          load.workers["1"].connections
        }, worker 2 ${load.workers["2"].connections}`,
      );
    },
  );
}

test(
  onDeno
    ? "runner on Deno (kernel): serveParallel() of tls_app.mjs, 2 workers serve 200 TLS connections, reload(), the new ones serve; or NotSupported why"
    : "runner (serveParallel, processes): tls_app.mjs on 2 workers serves 200 TLS connections, reload(), the new ones serve",
  { timeout: 90_000 },
  async (t: TestContext) => {
    const port = freePort();
    Object.assign(process.env, { ...tlsAppEnv(), PORT: String(port) });
    try {
      let server: ParallelServer;
      try {
        server = await serveParallel({
          file: TLS_APP.file,
          workers: 2,
          mode: "processes",
        });
      } catch (err) {
        // Deno's runner needs the kernel strategy.
        assert.ok(onDeno && !kernel.ok, `${err}`);
        assert.ok(err instanceof errors.NotSupported, `${err}`);
        assert.match((err as Error).message, /kernel strategy cannot work/);
        return;
      }
      try {
        assert.equal(server.strategy.strategy, onDeno ? "kernel" : "emulated");
        const load = await runLoad(LOAD_NODE, {
          port,
          workers: 2,
          connections: 200,
          requests: 2,
          tls: true,
        });
        assert.equal(load.ready, 2, "both workers answer");
        assert.equal(load.failed, 0, JSON.stringify(load.errors));
        const one = load.workers["1"]?.connections ?? 0;
        const two = load.workers["2"]?.connections ?? 0;
        assert.ok(one > 0 && two > 0, JSON.stringify(load.workers));
        const changes = await server.reload();
        assert.equal(changes.length, 2);
        const then = await runLoad(LOAD_NODE, {
          port,
          workers: 2,
          connections: 20,
          requests: 1,
          tls: true,
        });
        assert.equal(then.failed, 0, JSON.stringify(then.errors));
        assert.deepEqual(
          Object.values(then.seen!).sort(),
          changes.map((c) => c.new).sort(),
          "the new workers answer",
        );
        t.diagnostic(`200 TLS connections: worker 1 ${one}, worker 2 ${two}`);
      } finally {
        await server.close();
      }
    } finally {
      for (const name of Object.keys(tlsAppEnv())) delete process.env[name];
      delete process.env.PORT;
    }
  },
);
