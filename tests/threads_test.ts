/**
 * Worker threads as people write them: the main thread never loads this
 * package; two workers each import it and listen on one port. They share it
 * under every strategy where the runtime can move sockets between threads,
 * and when the thread holding the shared socket closes its listener or is
 * terminated, the other keeps serving. Elsewhere the second worker gets a
 * clear `AddrInUse`.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { strategyFor } from "../mod.ts";
import { runtime } from "../ops/runtime.ts";
import { onDeno } from "./_child.ts";
import { runThreadsProgram, threadFailures as failures } from "./_threads.ts";

/** The program with `option` and `phase`, `strategy` forced (`auto`: none). */
const run = (option: string, phase: string, strategy: string) =>
  runThreadsProgram(option, phase, { REUSEPORT_STRATEGY: strategy });

const canMove = !onDeno && runtime().handles?.threads === true;
const kernel = strategyFor({ reusePort: true }).strategy === "kernel";
const cases = [
  { option: "loadBalanced", strategy: "auto", moves: true },
  { option: "reusePort", strategy: "emulated", moves: true },
  ...(kernel
    ? [{ option: "reusePort", strategy: "kernel", moves: false }]
    : []),
];

for (const { option, strategy, moves } of cases) {
  const label = `${option}, REUSEPORT_STRATEGY=${strategy}`;
  test(
    `threads without ceremony (${label}): two workers of a main thread that never loaded the package share the port`,
    { timeout: 90_000 },
    async (t: TestContext) => {
      if (onDeno) return t.skip("Deno's workers: tests/strategy_test.ts");
      const seen = await run(option, "share", strategy);
      if (moves && !canMove) {
        assert.ok(
          seen.error,
          `the second worker listened: ${JSON.stringify(seen)}`,
        );
        assert.match(seen.error, /^AddrInUse: .*thread.*processes/);
        return;
      }
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

for (const option of ["loadBalanced", "reusePort"]) {
  test(
    `threads (${option}, emulated): the worker holding the socket closes its listener under load; not one connection fails`,
    { timeout: 90_000 },
    async (t: TestContext) => {
      if (!canMove) {
        return t.skip("this runtime cannot move sockets between threads");
      }
      const seen = await run(option, "handover", "emulated");
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
  "threads (loadBalanced): the worker holding the socket is terminated under load; the other binds again and serves",
  { timeout: 90_000 },
  async (t: TestContext) => {
    if (!canMove) {
      return t.skip("this runtime cannot move sockets between threads");
    }
    const seen = await run("loadBalanced", "terminate", "auto");
    assert.equal(seen.last, "w2");
    assert.ok((seen.after.w2 ?? 0) > 0, JSON.stringify(seen.after));
    t.diagnostic(
      `failed around the terminate: ${
        failures(seen.before) + failures(seen.after)
      } of 800 (${JSON.stringify(seen.after)})`,
    );
  },
);
