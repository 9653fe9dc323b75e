/**
 * A Unix socket path shared as a TCP address is: the parallel runner's
 * processes share one socket that its primary binds (Node and Bun pass each
 * connection over IPC), serving `tests/fixtures/tls_app.mjs` with
 * `UNIX_PATH` under load and through a rolling reload, and the socket file
 * is there while any worker listens and gone once the runner stops. Where
 * Unix connections cannot move (between worker threads on every runtime
 * here; between processes on Deno) the second listener's `AddrInUse` says
 * why and what to use instead, and the runner reports it and exits.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { test, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { type ParallelServer, serveParallel } from "../mod.ts";
import { runtime } from "../ops/runtime.ts";
import {
  LOAD_NODE,
  reloadUnderLoad,
  ROOT,
  runLoad,
  startRunner,
} from "../tools/balancing.ts";
import { modUrl, onDeno } from "./_child.ts";
import { runThreadsProgram, threadFailures } from "./_threads.ts";

/** The fixture app, as source (the build's tests run it from the repository). */
const APP = fileURLToPath(
  new URL("./fixtures/tls_app.mjs", import.meta.url).href
    .replace("/npm/esm/tests/", "/tests/"),
);

/** Runs `fn` with a socket path in a temporary directory, removed after. */
async function withPath<T>(fn: (path: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "unix-share-"));
  try {
    return await fn(join(dir, "app.sock"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What tls_app.mjs reads: this package as the tests see it, and the path. */
const appEnv = (path: string): Record<string, string> => ({
  TLS_APP_MODULE: modUrl,
  UNIX_PATH: path,
});

const handles = runtime().handles;
/** Whether Unix socket connections move between threads here (nowhere yet). */
const threadsMove = !onDeno &&
  (handles?.unixThreads?.moves ?? handles?.threads) === true;

/** The second worker thread's `AddrInUse` where Unix connections cannot move. */
const threadsCannot = onDeno
  ? /^AddrInUse: .*holds this path.*deno cannot pass Unix socket connections.*Node or Bun/
  : /^AddrInUse: .*holds this path, and if it is in another thread of this process, .*cannot move .*between threads.*--processes/;

test(
  "threads (loadBalanced): two worker threads listen on one Unix path; where Unix connections cannot move between threads, the second gets AddrInUse saying why and what to use",
  { timeout: 90_000 },
  async (t: TestContext) => {
    await withPath(async (path) => {
      const seen = await runThreadsProgram("loadBalanced", "share", {
        THREADS_UNIX_PATH: path,
      });
      if (!threadsMove) {
        assert.match(seen.error ?? "", threadsCannot, JSON.stringify(seen));
        // The first worker closed its listener: the socket file went with it.
        assert.equal(existsSync(path), false);
        return;
      }
      assert.equal(seen.error, undefined);
      assert.equal(threadFailures(seen.before), 0, JSON.stringify(seen));
      assert.equal(seen.before.w1 + seen.before.w2, 400);
      t.diagnostic(`400 connections: ${JSON.stringify(seen.before)}`);
    });
  },
);

if (onDeno) {
  test(
    "runner on Deno: a program that listens on a Unix path cannot be shared; reuseport serve --parallel=2 says why and exits 2",
    { timeout: 60_000 },
    async () => {
      await withPath(async (path) => {
        const { code, stderr } = await new Promise<
          { code: number | null; stderr: string }
        >((resolve) => {
          execFile(
            process.execPath,
            ["run", "-A", "bin.ts", "serve", "--parallel=2", APP],
            { cwd: ROOT, env: { ...process.env, ...appEnv(path) } },
            (err, _stdout, stderr) =>
              resolve({ code: err ? Number(err.code) : 0, stderr }),
          );
        });
        assert.equal(code, 2, stderr);
        assert.match(
          stderr,
          /^reuseport: cannot load .*tls_app\.mjs: AddrInUse: .*holds this path.*cannot pass Unix socket connections between them.*Run the parallel runner on Node or Bun/m,
        );
        assert.equal(existsSync(path), false, "the first worker's file went");
      });
    },
  );
} else {
  const runnerCases = [
    {
      mode: "processes" as const,
      title:
        "spreads 400 connections (2 requests each) over both workers, 0 failed; the file is gone once it stops",
    },
    {
      mode: "auto" as const,
      title:
        "(no mode: threads where TCP sockets move between threads, which Unix ones do not) runs processes and spreads 400 connections over both workers, 0 failed; the file is gone once it stops",
    },
    {
      mode: "threads" as const,
      title: threadsMove
        ? "spreads 400 connections over both workers, 0 failed; the file is gone once it stops"
        : "exits, saying why threads cannot share a Unix socket here and to use processes; no file is left",
    },
  ];
  for (const { mode, title } of runnerCases) {
    test(
      `runner (${mode}): reuseport serve --parallel=2 tls_app.mjs on a Unix path ${title}`,
      { timeout: 90_000 },
      async (t: TestContext) => {
        await withPath(async (path) => {
          const started = await startRunner(
            process.execPath,
            2,
            mode,
            { TLS_APP_MODULE: modUrl },
            { file: APP, path },
          ).catch((err: Error) => err);
          if (started instanceof Error) {
            // Threads: Node 24 and later move only TCP sockets between
            // threads; Node 20/22 and Bun none: the runner says so.
            assert.equal(mode, "threads", started.message);
            assert.ok(!threadsMove, started.message);
            assert.match(
              started.message,
              handles?.threads
                ? /cannot load .*AddrInUse: .*holds this path.*cannot move Unix socket connections between threads.*--processes/
                : /threads cannot share a socket here/,
            );
            assert.equal(existsSync(path), false);
            return;
          }
          try {
            if (mode === "auto" && !threadsMove) {
              assert.match(started.stderr(), /2 workers \(processes\)/);
            }
            assert.ok(existsSync(path), "the path is bound");
            const load = await runLoad(LOAD_NODE, {
              unix: path,
              connections: 400,
              requests: 2,
              concurrency: 16,
            });
            assert.equal(load.failed, 0, JSON.stringify(load.errors));
            assert.equal(load.requests, 800);
            const one = load.workers["1"]?.connections ?? 0;
            const two = load.workers["2"]?.connections ?? 0;
            assert.equal(one + two, 400);
            assert.ok(one > 0 && two > 0, JSON.stringify(load.workers));
            t.diagnostic(
              `400 Unix connections: worker 1 ${one}, worker 2 ${two}`,
            );
          } finally {
            await started.stop();
          }
          // The last listener closed: the socket file is removed, as Deno's
          // close does.
          assert.equal(existsSync(path), false);
        });
      },
    );
  }

  test(
    "runner (processes): a rolling reload (SIGHUP, twice) under 16 back-to-back Unix socket clients: 0 failed, the path never refused",
    { timeout: 90_000 },
    async (t: TestContext) => {
      await withPath(async (path) => {
        const { load, pids } = await reloadUnderLoad(
          process.execPath,
          "processes",
          { TLS_APP_MODULE: modUrl },
          2,
          8,
          { file: APP, path },
        );
        assert.equal(load.failed, 0, JSON.stringify(load.errors));
        assert.ok(load.requests > 100, `${load.requests} answered`);
        for (const id of ["1", "2"]) {
          assert.equal(new Set(pids[id]).size, 3, `worker ${id}: ${pids[id]}`);
        }
        assert.equal(existsSync(path), false, "gone once the runner stopped");
        t.diagnostic(
          `${load.connections} Unix connections through 2 reloads, 0 failed: worker 1 ${
            load.workers["1"].connections
          }, worker 2 ${load.workers["2"].connections}`,
        );
      });
    },
  );

  test(
    "runner (serveParallel, processes): a stale file at the path is AddrInUse, as Deno's listen; once removed, 2 workers serve, reload(), the new ones serve",
    { timeout: 90_000 },
    async (t: TestContext) => {
      await withPath(async (path) => {
        Object.assign(process.env, appEnv(path));
        try {
          writeFileSync(path, "");
          await assert.rejects(
            serveParallel({ file: APP, workers: 2, mode: "processes" }),
            /cannot load .*AddrInUse: Address already in use/,
          );
          assert.ok(existsSync(path), "a file that was there is left there");
          rmSync(path);
          const server: ParallelServer = await serveParallel({
            file: APP,
            workers: 2,
            mode: "processes",
          });
          try {
            const load = await runLoad(LOAD_NODE, {
              unix: path,
              workers: 2,
              connections: 200,
              requests: 2,
            });
            assert.equal(load.ready, 2, "both workers answer");
            assert.equal(load.failed, 0, JSON.stringify(load.errors));
            const changes = await server.reload();
            assert.equal(changes.length, 2);
            const then = await runLoad(LOAD_NODE, {
              unix: path,
              workers: 2,
              connections: 20,
              requests: 1,
            });
            assert.equal(then.failed, 0, JSON.stringify(then.errors));
            assert.deepEqual(
              Object.values(then.seen!).sort(),
              changes.map((c) => c.new).sort(),
              "the new workers answer",
            );
            t.diagnostic(
              `200 Unix connections: worker 1 ${
                load.workers["1"]?.connections
              }, worker 2 ${load.workers["2"]?.connections}`,
            );
          } finally {
            await server.close();
          }
          assert.equal(existsSync(path), false);
        } finally {
          for (const name of Object.keys(appEnv(path))) {
            delete process.env[name];
          }
        }
      });
    },
  );
}
