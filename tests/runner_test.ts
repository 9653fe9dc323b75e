/**
 * Sharing one address across threads and processes: worker threads with the
 * main thread (Node 24 moves sockets between threads; elsewhere the worker's
 * listen() must say so), and the parallel runner's processes, including a
 * worker killed under load.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { EventEmitter, once } from "node:events";
import { connect as netConnect, createServer } from "node:net";
import { after, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { Worker } from "node:worker_threads";
import {
  connect,
  listen,
  type ParallelEvent,
  serveParallel,
  strategyFor,
} from "../mod.ts";
import { detectRuntime } from "../platform/mod.ts";
import { startProcessHub } from "../sharing/processes.ts";
import { freePort, onDeno, ROOT, runLoad } from "../tools/balancing.ts";
import { modUrl } from "./_child.ts";

const dir = mkdtempSync(join(tmpdir(), "reuseport-runner-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A worker thread that listens on `port` with `options` and answers its id. */
const WORKER = `
import { parentPort, workerData } from "node:worker_threads";
import { listen } from ${JSON.stringify(modUrl)};
let listener;
try {
  listener = listen({ hostname: "127.0.0.1", port: workerData.port, ...workerData.options });
} catch (err) {
  parentPort.postMessage({ error: { name: err.name, message: err.message } });
}
if (listener) {
  parentPort.on("message", () => listener.close());
  parentPort.postMessage({ listening: true });
  for await (const conn of listener) {
    await conn.write(new TextEncoder().encode(workerData.id + "\\n"));
    conn.close();
  }
  parentPort.close();
}
`;
const workerFile = join(dir, "worker.mjs");
writeFileSync(workerFile, WORKER);

/** Starts a worker thread (loadBalanced unless told); resolves its first message. */
function startWorker(
  port: number,
  id: string,
  options: Record<string, boolean> = { loadBalanced: true },
): Promise<{ worker: Worker; first: Record<string, unknown> }> {
  const worker = new Worker(workerFile, { workerData: { port, id, options } });
  return new Promise((resolve, reject) => {
    worker.once("message", (first) => resolve({ worker, first }));
    worker.once("error", reject);
  });
}

/** Connects to `port`; resolves the id the listener that took it answered. */
async function askId(port: number): Promise<string> {
  const conn = await connect({ port });
  const buf = new Uint8Array(16);
  let text = "";
  for (let n; (n = await conn.read(buf)) !== null;) {
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  conn.close();
  return text.trim();
}

/** Stops the workers' listeners; resolves when every worker has exited. */
async function stopWorkers(workers: { worker: Worker }[]): Promise<void> {
  for (const { worker } of workers) worker.postMessage("stop");
  await Promise.all(
    workers.map(({ worker }) =>
      new Promise((resolve) => worker.once("exit", resolve))
    ),
  );
}

/** Threads can share sockets here: Node 24 and later, tested by feature. */
const handles = detectRuntime().handles;
const threadsShare = handles?.threads === true;
/** The kernel balances `reusePort` sockets here (Linux, Node >= 22.12, Deno, Bun). */
const kernelHere = strategyFor({ reusePort: true }).strategy === "kernel";

test(
  threadsShare
    ? "threads: 4 worker threads and the main thread share one address, all serve"
    : "threads: a worker's loadBalanced listen() on the main thread's address says threads cannot share here",
  { timeout: 60_000 },
  async () => {
    const main = listen({ hostname: "127.0.0.1", port: 0, loadBalanced: true });
    const port = main.addr.port;
    if (!threadsShare) {
      const { worker, first } = await startWorker(port, "w1");
      await worker.terminate();
      main.close();
      const error = first.error as { name: string; message: string };
      assert.ok(error, `the worker listened: ${JSON.stringify(first)}`);
      assert.equal(error.name, "AddrInUse");
      assert.match(error.message, /thread/);
      return;
    }
    const workers = await Promise.all(
      ["w1", "w2", "w3", "w4"].map((id) => startWorker(port, id)),
    );
    const served = new Map<string, number>();
    const loop = (async () => {
      for await (const conn of main) {
        await conn.write(new TextEncoder().encode("main\n"));
        conn.close();
      }
    })();
    try {
      for (const { first } of workers) {
        assert.deepEqual(first, { listening: true });
      }
      // 10 at a time, 200 in all, so that every listener gets turns.
      let next = 0;
      await Promise.all(Array.from({ length: 10 }, async () => {
        while (next++ < 200) {
          const id = await askId(port);
          served.set(id, (served.get(id) ?? 0) + 1);
        }
      }));
    } finally {
      await stopWorkers(workers);
      main.close();
      await loop;
    }
    const counts = Object.fromEntries(served);
    assert.deepEqual(
      Object.keys(counts).sort(),
      ["main", "w1", "w2", "w3", "w4"],
      `connections by listener: ${JSON.stringify(counts)}`,
    );
    assert.equal([...served.values()].reduce((a, b) => a + b, 0), 200);
    // Every thread left, so the main thread's hub let the address go.
    listen({ hostname: "127.0.0.1", port }).close();
  },
);

/** Worker threads with reusePort share: the kernel's way, or moved sockets. */
const reusePortShares = kernelHere || threadsShare;

test(
  reusePortShares
    ? "threads: worker threads listening with reusePort get a socket each (the kernel strategy) and all serve"
    : "threads: with no kernel strategy here, a second worker thread's reusePort listen() throws AddrInUse saying what to use",
  { timeout: 60_000 },
  async () => {
    const port = freePort();
    if (!reusePortShares) {
      // reusePort falls back to one shared socket, which cannot leave its thread.
      const first = await startWorker(port, "w1", { reusePort: true });
      const second = await startWorker(port, "w2", { reusePort: true });
      await stopWorkers([first]);
      await second.worker.terminate();
      assert.deepEqual(first.first, { listening: true });
      const err = second.first.error as { name: string; message: string };
      assert.equal(err?.name, "AddrInUse", JSON.stringify(second.first));
      assert.match(
        err.message,
        /another thread of this process, .* cannot move sockets between threads .* or processes: reuseport serve --parallel --processes$/,
      );
      return;
    }
    const workers = await Promise.all(
      ["w1", "w2"].map((id) => startWorker(port, id, { reusePort: true })),
    );
    const seen = new Set<string>();
    try {
      for (const { first } of workers) {
        assert.deepEqual(first, { listening: true });
      }
      // The kernel hashes each connection to a socket: 100 tries (bounded)
      // reach both unless it did not balance.
      for (let i = 0; i < 100 && seen.size < 2; i++) {
        seen.add(await askId(port));
      }
    } finally {
      await stopWorkers(workers);
    }
    assert.deepEqual([...seen].sort(), ["w1", "w2"]);
  },
);

// Not on Deno: examples/http_app.mjs runs the npm build. The runner on Deno
// (kernel strategy): tests/reload_test.ts.
if (!onDeno) {
  test(
    "processes: 2 runner workers serve; one killed under load is restarted and nothing else fails",
    { timeout: 60_000 },
    async () => {
      const file = join(ROOT, "examples", "http_app.mjs");
      const port = freePort();
      const events: (ParallelEvent & { at: number })[] = [];
      // Workers get the runner's environment when they (re)start.
      process.env.PORT = String(port);
      const server = await serveParallel({
        file,
        workers: 2,
        mode: "processes",
        onEvent: (event) => events.push({ ...event, at: Date.now() }),
      });
      try {
        const node = process.execPath;
        const probe = await runLoad(node, {
          port,
          workers: 2,
          connections: 4,
          requests: 1,
        });
        assert.equal(probe.ready, 2, "both workers answer");
        const victim = probe.seen!["1"];
        const survivor = probe.seen!["2"];

        const load = runLoad(node, {
          port,
          connections: 0,
          requests: 5,
          concurrency: 16,
          seconds: 3,
          trace: true,
        });
        await new Promise((resolve) => setTimeout(resolve, 1000));
        process.kill(victim, "SIGKILL");
        const result = await load;

        const exit = events.find((e) => e.type === "exit" && e.worker === 1);
        assert.ok(
          exit,
          `the runner saw worker 1 exit: ${JSON.stringify(events)}`,
        );
        assert.equal(exit.code, 137, "SIGKILL's exit code: 128 + 9");
        assert.ok(
          events.some((e) => e.type === "restart" && e.worker === 1),
          "the runner restarted worker 1",
        );
        // Lost: only connections the dead worker held or was being handed
        // before the runner knew it was dead; none answered by another.
        const lost = result.trace!.filter((c) => c.error);
        const unexplained = lost.filter((c) =>
          c.opened > exit.at || c.pids.some((pid) => pid !== victim)
        );
        assert.deepEqual(
          unexplained,
          [],
          `failed connections the dead worker did not hold (exit seen at ${exit.at})`,
        );
        assert.ok(lost.length <= 16, `${lost.length} connections lost`);
        const after = result.trace!.filter((c) => c.opened > exit.at);
        assert.ok(
          after.filter((c) => !c.error && c.pids.length > 0).length > 0,
          "requests succeed after the kill",
        );
        assert.deepEqual(result.workers["2"].pids, [survivor]);
        const restarted = result.workers["1"].pids.filter((p) => p !== victim);
        assert.equal(restarted.length, 1, "the restarted worker 1 serves");
      } finally {
        await server.close();
        delete process.env.PORT;
      }
    },
  );
}

/** Sends one `listen` line to the hub's control socket, as a child's helper does. */
function askHub(
  path: string,
  request: unknown,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let answer = "";
    const socket = netConnect(path);
    socket.setEncoding("utf8");
    socket.on("data", (chunk) => answer += chunk);
    socket.on("end", () => resolve(JSON.parse(answer)));
    socket.on("error", reject);
    socket.end(JSON.stringify(request) + "\n");
  });
}

/** A stand-in for a forked child: what the hub sends it goes to `onSend`. */
class FakeChild extends EventEmitter {
  connected = true;
  constructor(
    readonly pid: number,
    readonly onSend: (
      raw: unknown,
      done: (err: Error | null) => void,
    ) => void,
  ) {
    super();
  }
  send(
    _msg: unknown,
    raw: unknown,
    _options: unknown,
    done: (err: Error | null) => void,
  ): boolean {
    this.onSend(raw, done);
    return true;
  }
}

// Not on Deno: the processes hub is a Node program (Deno's runner uses the
// kernel strategy, with no hub).
if (!onDeno) {
  test(
    "processes hub: a connection whose send to a dead child fails goes to the next waiting child",
    { timeout: 20_000 },
    async () => {
      const hub = await startProcessHub(handles!);
      const path = hub.primary;
      // Child 1's channel is broken (it died); child 2 answers what it gets.
      const dead = new FakeChild(1, (_raw, done) => done(new Error("EPIPE")));
      let answered = (_who: string) => {};
      const got = new Promise<string>((resolve) => answered = resolve);
      const alive = new FakeChild(2, (raw) => {
        const stream = handles!.stream(raw as object);
        stream.write(new TextEncoder().encode("child 2"))
          .then(() => stream.close());
        answered("child 2");
      });
      hub.attach(alive as never);
      hub.attach(dead as never);
      try {
        const request = {
          hostname: "127.0.0.1",
          port: 0,
          backlog: 16,
          reusePort: false,
        };
        const first = await askHub(path, { listen: request, member: "p1:1" });
        const { port } = first.addr as { port: number };
        await askHub(path, { listen: { ...request, port }, member: "p2:1" });
        for (
          const [child, member] of [[dead, "p1:1"], [alive, "p2:1"]] as const
        ) {
          child.emit("message", {
            tag: "@reuseport/net",
            msg: { op: "want", key: first.key, member, refed: true },
          });
        }
        const client = await connect({ port });
        const buf = new Uint8Array(16);
        const n = await client.read(buf);
        client.close();
        assert.equal(
          new TextDecoder().decode(buf.subarray(0, n ?? 0)),
          "child 2",
          "the connection reached child 2",
        );
        assert.equal(await got, "child 2");
      } finally {
        for (const child of [dead, alive]) child.emit("exit");
        hub.close();
      }
    },
  );

  test(
    "processes hub: a listen request read after close() binds nothing",
    { timeout: 20_000 },
    async () => {
      const hub = await startProcessHub(handles!);
      const dir = mkdtempSync(join(tmpdir(), "late-listen-"));
      const path = join(dir, "app.sock");
      try {
        // A worker's connection is open, its request not read yet.
        const socket = netConnect(hub.primary);
        await once(socket, "connect");
        hub.close();
        const request = { transport: "unix", path, backlog: 16 };
        socket.end(JSON.stringify({ listen: request, member: "p1:1" }) + "\n");
        let answer = "";
        socket.setEncoding("utf8").on("data", (chunk) => answer += chunk);
        socket.on("error", () => {});
        await once(socket, "close");
        assert.equal(answer, "", "no answer");
        assert.equal(existsSync(path), false, "no socket bound at the path");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test(
    "processes hub: a new primary removes the control folders of dead primaries (SIGKILL), not a live one's",
    { timeout: 20_000 },
    async () => {
      // A pid that ran and is gone (and, for the test, not reused yet).
      const dead = spawnSync(process.execPath, ["-e", ""]).pid!;
      const stale = mkdtempSync(join(tmpdir(), `reuseport-${dead}-0badf00d-`));
      writeFileSync(join(stale, "control.sock"), ""); // nobody answers there
      // Another pid namespace's primary: its pid is nobody here, it answers.
      const live = mkdtempSync(join(tmpdir(), `reuseport-${dead}-00c0ffee-`));
      const answering = createServer().listen(join(live, "control.sock"));
      await once(answering, "listening");
      const hub = await startProcessHub(handles!);
      try {
        const deadline = Date.now() + 5_000;
        while (existsSync(stale) && Date.now() < deadline) await delay(20);
        assert.equal(existsSync(stale), false, "the dead primary's folder");
        assert.equal(existsSync(live), true, "the live primary's folder");
      } finally {
        hub.close();
        answering.close();
        rmSync(live, { recursive: true, force: true });
        rmSync(stale, { recursive: true, force: true });
      }
    },
  );
}
