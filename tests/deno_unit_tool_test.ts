/**
 * The parts of `tools/deno_unit_suite.ts` (the run of Deno's own
 * `net_test.ts`) that need no Deno source tree, so CI keeps them honest: the
 * `Deno.test` runner of `tools/_deno_unit/runner.ts` (every call shape,
 * ignore/only/filter, a failure's class and message, an error escaping a
 * test, the resource sanitizer) and the `@std/assert` rules our
 * `test_util.ts` stand-in must keep, or Deno's tests would pass here where
 * they fail under Deno's own helpers.
 */
import assert from "node:assert/strict";
import { existsSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { test } from "node:test";
import { listen } from "../mod.ts";
import { onDeno } from "./_child.ts";
import { execCode } from "./_deno_test.ts";
import { resources, tryClose } from "../ops/mod.ts";
import { type Case, runCases, toCase } from "../tools/_deno_unit/runner.ts";
import {
  assertEquals,
  assertGreaterOrEqual,
  AssertionError,
  assertRejects,
  assertStringIncludes,
  assertThrows,
  delay,
  tmpUnixSocketPath,
} from "../tools/_deno_unit/test_util.ts";

const ops = { resources, tryClose };
const runnerUrl = new URL(
  `../tools/_deno_unit/runner.${onDeno ? "ts" : "js"}`,
  import.meta.url,
).href;
const quiet = (): void => {};

test("deno_unit runner: every Deno.test call shape is read, name and options", () => {
  const fn = () => {};
  const shapes: Case[] = [
    toCase(function byName() {}),
    toCase("given", fn),
    toCase({ ignore: true }, function ignoredOne() {}),
    toCase({ name: "inOptions", fn, only: true }),
    toCase("three", { ignore: true }, fn),
  ];
  assert.deepEqual(
    shapes.map(({ name, ignore, only }) => ({ name, ignore, only })),
    [
      { name: "byName", ignore: false, only: false },
      { name: "given", ignore: false, only: false },
      { name: "ignoredOne", ignore: true, only: false },
      { name: "inOptions", ignore: false, only: true },
      { name: "three", ignore: true, only: false },
    ],
  );
  assert.throws(() => toCase({ name: "none" }), TypeError);
});

test("deno_unit runner: passes, failures with class and message, ignored, filter, only", async () => {
  const cases = [
    toCase(function passes() {}),
    toCase(async function passesLater() {
      await delay(5);
    }),
    toCase(function throwsTypeError() {
      throw new TypeError("boom");
    }),
    toCase(async function rejectsAssertion() {
      await Promise.reject(new AssertionError("not equal"));
    }),
    toCase({ ignore: true }, function ignored() {
      throw new Error("must not run");
    }),
  ];
  assert.deepEqual(await runCases(cases, ops, "", quiet), {
    passed: ["passes", "passesLater"],
    failed: [
      { name: "throwsTypeError", error: "TypeError: boom" },
      { name: "rejectsAssertion", error: "AssertionError: not equal" },
    ],
    ignored: ["ignored"],
  });
  const lines: string[] = [];
  assert.deepEqual(
    await runCases(cases, ops, "passes", (line) => lines.push(line)),
    { passed: ["passes", "passesLater"], failed: [], ignored: [] },
  );
  assert.deepEqual(lines, ["ok      passes", "ok      passesLater"]);
  const only = [toCase(function other() {}), toCase({ only: true, fn() {} })];
  assert.deepEqual(await runCases(only, ops, "", quiet), {
    passed: ["fn"],
    failed: [],
    ignored: ["other"],
  });
});

test("deno_unit runner: a rejection that escapes the test fails that test", async () => {
  // In a child of its own: `deno test` (running this file on Deno) would take
  // the rejection for this test's own.
  const { code, stdout, stderr } = await execCode(`
    import { runCases, toCase } from ${JSON.stringify(runnerUrl)};
    const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    const cases = [
      toCase(async function escapes() {
        Promise.reject(new RangeError("escaped")); // nobody awaits it
        await delay(50);
      }),
      toCase(function after() {}),
    ];
    const ops = { resources: () => ({}), tryClose() {} };
    console.log(JSON.stringify(await runCases(cases, ops, "", () => {})));
  `);
  assert.equal(code, 0, stderr);
  assert.deepEqual(JSON.parse(stdout), {
    passed: ["after"],
    failed: [{
      name: "escapes",
      error: "Error: uncaught: RangeError: escaped",
    }],
    ignored: [],
  });
});

test("deno_unit runner: a test that leaves a rid open fails, and the rid is closed", async () => {
  const before = new Set(Object.keys(resources()));
  let port = 0;
  const summary = await runCases(
    [
      toCase(function leaksAListener() {
        // loadBalanced: ours in the table on every runtime (on Deno a plain
        // listen is Deno's own, which Deno's sanitizer, not ours, sees).
        port = listen({ hostname: "127.0.0.1", port: 0, loadBalanced: true })
          .addr.port;
      }),
    ],
    ops,
    "",
    quiet,
  );
  assert.equal(summary.failed.length, 1);
  assert.match(
    summary.failed[0].error,
    /^leaks resources: \d+ \(tcpListener\)$/,
  );
  assert.deepEqual(
    Object.keys(resources()).filter((rid) => !before.has(rid)),
    [],
  );
  // Closed, so the port can be bound again.
  listen({ hostname: "127.0.0.1", port }).close();
});

test("deno_unit test_util: assertRejects keeps @std/assert's rules", async () => {
  await assert.rejects(
    assertRejects(() => {
      throw new TypeError("thrown, not rejected");
    }),
    (err: Error) =>
      err instanceof AssertionError &&
      /throws when expected to reject/.test(err.message),
  );
  await assert.rejects(
    assertRejects(() => Promise.resolve(1)),
    /Expected function to reject/,
  );
  const err = await assertRejects(
    () => Promise.reject(new TypeError("bad port")),
    TypeError,
    "port",
  );
  assert.equal(err.message, "bad port");
  await assert.rejects(
    assertRejects(() => Promise.reject(new TypeError("x")), RangeError),
    /instance of "RangeError", but was "TypeError"/,
  );
  await assert.rejects(
    assertRejects(() => Promise.reject(new TypeError("x")), TypeError, "y"),
    /message to include "y"/,
  );
});

test("deno_unit test_util: assertThrows, assertEquals, the small ones", async () => {
  assert.throws(() => assertThrows(() => {}), /Expected function to throw/);
  assert.equal(
    assertThrows(() => {
      throw new RangeError("r");
    }, RangeError).message,
    "r",
  );
  assert.throws(
    () =>
      assertThrows(() => {
        throw new RangeError("r");
      }, TypeError),
    AssertionError,
  );
  assertEquals({ value: undefined, done: true }, {
    value: undefined,
    done: true,
  });
  // Same bytes, different constructors: unequal, as in @std/assert.
  assert.throws(() =>
    assertEquals(new Uint8Array([1]), new Uint16Array([1]) as never)
  );
  assertGreaterOrEqual(2, 2);
  assert.throws(() => assertGreaterOrEqual(1, 2), AssertionError);
  assertStringIncludes("OK\n", "OK");
  assert.throws(() => assertStringIncludes("no", "OK"), AssertionError);
  const controller = new AbortController();
  const waiting = delay(10_000, { signal: controller.signal });
  controller.abort(new Error("stop"));
  await assert.rejects(waiting, /stop/);
  const path = tmpUnixSocketPath();
  try {
    assert.match(path, /\/socket$/);
    assert.ok(existsSync(dirname(path)));
    assert.ok(!existsSync(path));
  } finally {
    rmSync(dirname(path), { recursive: true, force: true });
  }
});
