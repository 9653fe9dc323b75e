/** The runner's command line and `serveParallel()`'s argument checks. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { parseArgs, type ServeCommand } from "../_cli.ts";
import { errors, serveParallel } from "../mod.ts";
import { type ChildResult, onDeno, runChild } from "./_child.ts";

function serve(argv: string[]): ServeCommand {
  const command = parseArgs(argv);
  assert.equal(command.action, "serve");
  return command as ServeCommand;
}

/** Runs the `reuseport` command (the source on Deno, the build on Node). */
function reuseport(...argv: string[]): Promise<ChildResult> {
  const bin = fileURLToPath(
    new URL(onDeno ? "../bin.ts" : "../bin.js", import.meta.url),
  );
  return runChild(onDeno ? ["run", "-A", bin, ...argv] : [bin, ...argv]);
}

test("serve --parallel=3 --processes app.mjs a b", () => {
  assert.deepEqual(
    parseArgs(["serve", "--parallel=3", "--processes", "app.mjs", "a", "b"]),
    {
      action: "serve",
      workers: 3,
      mode: "processes",
      file: resolve("app.mjs"),
      args: ["a", "b"],
    },
  );
});

test("--parallel alone: one worker per available core; no --parallel: one", () => {
  assert.equal(
    serve(["serve", "--parallel", "app.mjs"]).workers,
    availableParallelism(),
  );
  assert.equal(serve(["serve", "app.mjs"]).workers, 1);
  assert.equal(serve(["serve", "--threads", "app.mjs"]).mode, "threads");
  assert.equal(serve(["serve", "app.mjs"]).mode, "auto");
});

test("what follows the module is the module's own, options included", () => {
  const command = serve([
    "serve",
    "--threads",
    "app.mjs",
    "--help",
    "-x",
    "--parallel=0",
  ]);
  assert.equal(command.file, resolve("app.mjs"));
  assert.deepEqual(command.args, ["--help", "-x", "--parallel=0"]);
  assert.equal(serve(["serve", "--", "--app.mjs"]).file, resolve("--app.mjs"));
});

test("--help, -h, serve --help and --version", () => {
  for (const argv of [["--help"], ["-h"], ["--help", "serve"]]) {
    const command = parseArgs(argv);
    assert.equal(command.action, "help");
    assert.match(
      (command as { text: string }).text,
      /^usage: reuseport serve .*\n\s+reuseport --help \| --version\n/,
    );
  }
  for (const argv of [["serve", "--help"], ["serve", "--parallel=2", "-h"]]) {
    const command = parseArgs(argv);
    assert.equal(command.action, "help");
    assert.match(
      (command as { text: string }).text,
      /--parallel\[=N\] +N workers/,
    );
  }
  assert.deepEqual(parseArgs(["--version"]), { action: "version" });
});

test("bad command lines name what is wrong", () => {
  const cases: [string[], string][] = [
    [["run", "app.mjs"], 'unknown command "run"'],
    [[], "no command given"],
    [["--verbose"], "unknown option --verbose"],
    [["--parallel", "serve", "app.mjs"], "unknown option --parallel"],
    [["serve", "--version"], "unknown option --version"],
    [["serve", "--threads=1", "app.mjs"], "--threads takes no value"],
    [["--help=yes"], "--help takes no value"],
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

test(
  "the command: help and version exit 0 on stdout, a usage error exits 2 on stderr",
  { timeout: 30_000 },
  async () => {
    const help = await reuseport("--help");
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: reuseport serve /);
    assert.equal(help.stderr, "");
    const serveHelp = await reuseport("serve", "--help");
    assert.equal(serveHelp.code, 0);
    assert.match(serveHelp.stdout, /--processes +workers are processes/);
    const version = await reuseport("--version");
    assert.equal(version.code, 0);
    const { version: expected } = JSON.parse(
      readFileSync(
        new URL(
          onDeno ? "../deno.json" : "../../package.json",
          import.meta.url,
        ),
        "utf8",
      ),
    );
    assert.equal(version.stdout, `reuseport ${expected}\n`);
    for (
      const argv of [[], ["serve"], ["serve", "--fast", "app.mjs"], ["help"]]
    ) {
      const usage = await reuseport(...argv);
      assert.equal(usage.code, 2, `exit code of reuseport ${argv.join(" ")}`);
      assert.equal(usage.stdout, "");
      assert.match(
        usage.stderr,
        /^reuseport: TypeError: .*\nusage: reuseport serve /,
      );
    }
  },
);

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
