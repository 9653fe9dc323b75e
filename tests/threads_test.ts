/**
 * Worker threads as people write them: the main thread never loads this
 * package; two workers each import it and listen on one port. They share it
 * under every strategy where the runtime can move sockets between threads,
 * and when the thread holding the shared socket closes its listener or is
 * terminated, the other keeps serving. Elsewhere (Node 20 and 22, Bun, Deno)
 * the second worker gets a clear `AddrInUse`, and forcing the kernel where it
 * cannot balance (Node 20) a clear `NotSupported`. Deno's own worker cases:
 * tests/strategy_test.ts.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { strategyFor } from "../mod.ts";
import { runtime } from "../ops/runtime.ts";
import { onDeno } from "./_child.ts";
import {
  runThreadsProgram,
  threadFailures as failures,
  type ThreadsSeen,
} from "./_threads.ts";

/** The program with `option` and `phase`, `strategy` forced (`auto`: none). */
const run = (option: string, phase: string, strategy: string) =>
  runThreadsProgram(option, phase, { REUSEPORT_STRATEGY: strategy });

const canMove = !onDeno && runtime().handles?.threads === true;
const kernel = strategyFor({ reusePort: true }).strategy === "kernel";
const cases = [
  { option: "loadBalanced", strategy: "auto", moves: true },
  { option: "reusePort", strategy: "emulated", moves: true },
  { option: "reusePort", strategy: "kernel", moves: false },
];

const cannotJoin = "the second worker cannot join: AddrInUse says what to use";

/**
 * Asserts the second worker could not join, saying why and what to use:
 * where sockets cannot move between threads (Node 20 and 22, Bun, Deno).
 */
function assertCannotShare(seen: ThreadsSeen): void {
  assert.ok(seen.error, `the second worker listened: ${JSON.stringify(seen)}`);
  assert.match(
    seen.error,
    onDeno
      ? /^AddrInUse: .*another worker thread of this process, Deno cannot share one socket between workers .*reusePort without loadBalanced .*; or use deno serve --parallel$/
      : /^AddrInUse: .*another thread of this process, .* cannot move sockets between threads \([^)]+\)\. Use the kernel strategy .* or processes: reuseport serve --parallel --processes$/,
  );
}

for (const { option, strategy, moves } of cases) {
  const label = `${option}, REUSEPORT_STRATEGY=${strategy}`;
  // Forcing the kernel where it cannot balance (Node 20) fails the first
  // worker's listen, saying why.
  const noKernel = strategy === "kernel" && !kernel;
  test(
    `threads without ceremony (${label}): ${
      noKernel
        ? "the kernel cannot balance here; the first worker's listen throws NotSupported saying why"
        : moves && !canMove
        ? cannotJoin
        : "two workers of a main thread that never loaded the package share the port"
    }`,
    { timeout: 90_000 },
    async (t: TestContext) => {
      const seen = await run(option, "share", strategy);
      if (noKernel) {
        assert.match(
          seen.error ?? JSON.stringify(seen),
          /^NotSupported: REUSEPORT_STRATEGY=kernel: the kernel strategy cannot work here: .*SO_REUSEPORT/,
        );
        return;
      }
      if (moves && !canMove) return assertCannotShare(seen);
      assert.equal(seen.error, undefined);
      assert.equal(failures(seen.before), 0, JSON.stringify(seen.before));
      assert.equal(seen.before.w1 + seen.before.w2, 400);
      assert.ok(
        seen.before.w1 > 0 && seen.before.w2 > 0,
        JSON.stringify(seen.before),
      );
      t.diagnostic(
        `400 connections: w1 ${seen.before.w1}, w2 ${seen.before.w2}`,
      );
    },
  );
}

// Where sockets cannot move between threads, there is no second worker to
// share with or hand over to: the tests assert that its listen says so.

for (const option of ["loadBalanced", "reusePort"]) {
  test(
    `threads (${option}, emulated): ${
      canMove
        ? "the worker holding the socket closes its listener under load; not one connection fails"
        : cannotJoin
    }`,
    { timeout: 90_000 },
    async () => {
      const seen = await run(option, "handover", "emulated");
      if (!canMove) return assertCannotShare(seen);
      assert.equal(
        failures(seen.before) + failures(seen.after),
        0,
        JSON.stringify(seen),
      );
      // w1 may still answer a connection its app had accepted before the
      // close; from then on w2 serves.
      assert.ok((seen.after.w2 ?? 0) > 0, JSON.stringify(seen.after));
      assert.equal(seen.last, "w2");
    },
  );
}

test(
  `threads (loadBalanced): ${
    canMove
      ? "the worker holding the socket is terminated under load; the other binds again and serves"
      : cannotJoin
  }`,
  { timeout: 90_000 },
  async (t: TestContext) => {
    const seen = await run("loadBalanced", "terminate", "auto");
    if (!canMove) return assertCannotShare(seen);
    assert.equal(seen.last, "w2");
    assert.ok((seen.after.w2 ?? 0) > 0, JSON.stringify(seen.after));
    t.diagnostic(
      `failed around the terminate: ${
        failures(seen.before) + failures(seen.after)
      } of 800 (${JSON.stringify(seen.after)})`,
    );
  },
);
