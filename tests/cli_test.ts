/** The runner's command line and `serveParallel()`'s argument checks. */
import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { test } from "node:test";
import { parseArgs } from "../_cli.ts";
import { errors, serveParallel } from "../mod.ts";
import { onDeno } from "./_child.ts";

test("serve --parallel=3 --processes app.mjs a b", () => {
  assert.deepEqual(
    parseArgs(["serve", "--parallel=3", "--processes", "app.mjs", "a", "b"]),
    {
      workers: 3,
      mode: "processes",
      file: resolve("app.mjs"),
      args: ["a", "b"],
    },
  );
});

test("--parallel alone: one worker per available core; no --parallel: one", () => {
  assert.equal(
    parseArgs(["serve", "--parallel", "app.mjs"]).workers,
    availableParallelism(),
  );
  assert.equal(parseArgs(["serve", "app.mjs"]).workers, 1);
  assert.equal(parseArgs(["serve", "--threads", "app.mjs"]).mode, "threads");
  assert.equal(parseArgs(["serve", "app.mjs"]).mode, "auto");
});

test("bad command lines name what is wrong", () => {
  const cases: [string[], string][] = [
    [["run", "app.mjs"], 'unknown command "run"'],
    [
      ["serve", "--parallel=0", "app.mjs"],
      '--parallel wants a positive integer: received "0"',
    ],
    [
      ["serve", "--parallel=two", "app.mjs"],
      '--parallel wants a positive integer: received "two"',
    ],
    [["serve", "--fast", "app.mjs"], "unknown option --fast"],
    [["serve", "--parallel=2"], "no module given"],
  ];
  for (const [argv, message] of cases) {
    assert.throws(() => parseArgs(argv), { name: "TypeError", message });
  }
});

test("serveParallel: workers must be a positive integer (Node); Deno points to deno serve", async () => {
  if (onDeno) {
    await assert.rejects(
      serveParallel({ file: "app.mjs", workers: 2 }),
      (err: Error) =>
        err instanceof errors.NotSupported &&
        /deno serve --parallel/.test(err.message),
    );
    return;
  }
  await assert.rejects(serveParallel({ file: "app.mjs", workers: 0 }), {
    name: "TypeError",
    message: "workers must be a positive integer: received 0",
  });
});
