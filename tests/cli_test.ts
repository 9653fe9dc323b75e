/**
 * The runner's command line, `serveParallel()`'s argument checks, and a
 * module that cannot load: one line, exit status 2, a rejection.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parseArgs, type ServeCommand } from "../_cli.ts";
import { serveParallel, strategyFor } from "../mod.ts";
import { detectRuntime } from "../platform/mod.ts";
import { reportedError } from "../platform/reported_error.ts";
import { freePort } from "../tools/balancing.ts";
import { type ChildResult, modUrl, onBun, onDeno, runChild } from "./_child.ts";

const dir = mkdtempSync(join(tmpdir(), "reuseport-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function serve(argv: string[]): ServeCommand {
  const command = parseArgs(argv);
  assert.equal(command.action, "serve");
  return command as ServeCommand;
}

/** This runtime's arguments for the `reuseport` command (the source on Deno, the build on Node). */
function command(argv: string[]): string[] {
  const bin = fileURLToPath(
    new URL(onDeno ? "../bin.ts" : "../bin.js", import.meta.url),
  );
  return onDeno ? ["run", "-A", bin, ...argv] : [bin, ...argv];
}

/** Runs the `reuseport` command to its end. */
function reuseport(...argv: string[]): Promise<ChildResult> {
  return runChild(command(argv));
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

test("serveParallel: workers must be a positive integer", async () => {
  for (const workers of [0, 1.5, NaN]) {
    await assert.rejects(serveParallel({ file: "app.mjs", workers }), {
      name: "TypeError",
      message: `workers must be a positive integer: received ${workers}`,
    });
  }
});

/**
 * The modes the runner runs workers in here: processes (on Deno, with the
 * kernel strategy: Linux), and threads where they can share a socket (Node
 * 24 and later).
 */
const modes: ("processes" | "threads")[] = [];
if (!onDeno || strategyFor({ reusePort: true }).strategy === "kernel") {
  modes.push("processes");
}
if (detectRuntime().handles?.threads) modes.push("threads");

// Where threads cannot share a socket (Node 20 and 22, Bun, Deno) the threads
// mode is refused before any worker starts, saying why and what to use.
if (!modes.includes("threads")) {
  test(
    "the command, --threads where threads cannot share here: NotSupported in one line saying to use processes, then the usage, exit 2",
    { timeout: 30_000 },
    async () => {
      const file = join(dir, "never_loaded.mjs");
      writeFileSync(file, 'throw new Error("a worker started");\n');
      const result = await reuseport(
        "serve",
        "--parallel=2",
        "--threads",
        file,
      );
      assert.equal(result.code, 2, result.stderr);
      assert.equal(result.stdout, "");
      const lines = result.stderr.split("\n");
      assert.match(
        lines[0],
        /^reuseport: NotSupported: .*(cannot move sockets between threads|moves connections between threads).*: use processes$/,
      );
      assert.match(lines[1], /^usage: reuseport serve /);
    },
  );
}

/** Modules that cannot start, and how each runtime says why. */
const broken: { name: string; file: string; why: RegExp }[] = [
  {
    name: "a file that does not exist",
    file: join(dir, "nonexistent.mjs"),
    // Node; Bun and Deno.
    why:
      /^(Cannot find module '.*nonexistent\.mjs'|Module not found ".*nonexistent\.mjs"\.?)$/,
  },
  {
    name: "a syntax error",
    file: join(dir, "syntax.mjs"),
    // Node; Deno; Bun, which names no class.
    why: onBun
      ? /^Unexpected ;$/
      : /^SyntaxError: (Unexpected token ';'|Expression expected)$/,
  },
  {
    name: "a throw at top level",
    file: join(dir, "throws.mjs"),
    why: /^TypeError: boom at top$/,
  },
  {
    name: "an exit before its first listen()",
    file: join(dir, "exits.mjs"),
    why: /^exited with code 3 before it listened$/,
  },
];
writeFileSync(join(dir, "syntax.mjs"), "let x = ;\n");
writeFileSync(
  join(dir, "throws.mjs"),
  'throw new TypeError("boom at top");\n',
);
writeFileSync(join(dir, "exits.mjs"), "process.exit(3);\n");

for (const { name, file, why } of broken) {
  for (const mode of modes) {
    test(
      `the command, ${mode}: ${name} ends the runner at once, in one line on stderr, exit 2`,
      { timeout: 30_000 },
      async () => {
        const began = Date.now();
        const result = await reuseport(
          "serve",
          "--parallel=2",
          `--${mode}`,
          file,
        );
        const took = Date.now() - began;
        assert.equal(result.code, 2, result.stderr);
        assert.equal(result.stdout, "");
        const lines = result.stderr.split("\n");
        assert.equal(lines.length, 2, `one line:\n${result.stderr}`);
        assert.equal(lines[1], "");
        const prefix = `reuseport: cannot load ${file}: `;
        assert.ok(lines[0].startsWith(prefix), lines[0]);
        assert.match(lines[0].slice(prefix.length), why);
        // Two workers' start, not five restarts of each.
        assert.ok(took < 10_000, `${took} ms`);
      },
    );
  }
}

for (const mode of modes) {
  test(
    `the command, ${mode}: what a worker writes on stderr reaches ours, what it wrote before it listened once it listens`,
    { timeout: 30_000 },
    async () => {
      const file = join(dir, "talks.mjs");
      writeFileSync(
        file,
        `import process from "node:process";
import { listen } from ${JSON.stringify(modUrl)};
const id = process.env.REUSEPORT_WORKER;
console.error("worker " + id + " starts");
const listener = listen({ hostname: "127.0.0.1", port: Number(process.env.PORT) });
setTimeout(() => console.error("worker " + id + " serves"), 200);
for await (const conn of listener) conn.close();
`,
      );
      const runner = spawn(
        process.execPath,
        command(["serve", "--parallel=2", `--${mode}`, file]),
        {
          env: { ...process.env, PORT: String(freePort()) },
          stdio: ["ignore", "ignore", "pipe"],
        },
      );
      let stderr = "";
      let stopped = false;
      const exited = new Promise<number | null>((resolve) => {
        runner.stderr!.on("data", (chunk) => {
          stderr += chunk;
          const serving = stderr.match(/^worker \d serves$/gm) ?? [];
          const started = /^reuseport: 2 workers/m.test(stderr);
          if (started && serving.length === 2 && !stopped) {
            stopped = true;
            process.kill(runner.pid!, "SIGTERM");
          }
        });
        runner.once("exit", resolve);
      });
      const code = await exited;
      assert.equal(code, 0, stderr);
      const lines = stderr.split("\n");
      const started = lines.findIndex((l) => /^reuseport: 2 workers/.test(l));
      assert.ok(started > 0, stderr);
      // Held back until each worker listened, and passed on then: before
      // the runner's line, which waits for both.
      const before = lines.slice(0, started);
      assert.ok(before.includes("worker 1 starts"), stderr);
      assert.ok(before.includes("worker 2 starts"), stderr);
      assert.deepEqual(
        lines.filter((l) => l.startsWith("worker")).sort(),
        [
          "worker 1 serves",
          "worker 1 starts",
          "worker 2 serves",
          "worker 2 starts",
        ],
      );
    },
  );
}

test(
  "serveParallel: a module that cannot load rejects with an Error saying why",
  { timeout: 30_000, skip: modes.length ? false : "no runner here" },
  async () => {
    for (const { file, why } of broken) {
      await assert.rejects(
        serveParallel({ file, workers: 2, mode: modes[0] }),
        (err: Error) => {
          assert.equal(err.constructor, Error);
          const prefix = `cannot load ${file}: `;
          assert.ok(err.message.startsWith(prefix), err.message);
          assert.match(err.message.slice(prefix.length), why);
          return true;
        },
      );
    }
  },
);

test(
  "serveParallel: aborting the signal while the workers start stops them, and it rejects with the reason",
  { timeout: 30_000, skip: modes.length ? false : "no runner here" },
  async () => {
    const file = join(dir, "never_listens.mjs");
    writeFileSync(file, "setInterval(() => {}, 1000);\n");
    const signal = AbortSignal.timeout(500);
    const began = Date.now();
    await assert.rejects(
      serveParallel({
        file,
        workers: 2,
        mode: modes[0],
        signal,
      }),
      { name: "TimeoutError" },
    );
    // Not the grace period: a worker that has not listened cannot hear a stop.
    assert.ok(Date.now() - began < 4_000, `${Date.now() - began} ms`);
  },
);

test("reportedError: the uncaught error's line, as Node, Bun and Deno print it", () => {
  const node = `starting
file:///tmp/throws.mjs:2
throw new TypeError("boom at top");
      ^

TypeError: boom at top
    at file:///tmp/throws.mjs:2:7
    at ModuleJob.run (node:internal/modules/esm/module_job:561:25)

Node.js v24.22.3
`;
  const nodeNotFound = `node:internal/modules/cjs/loader:1568
  throw err;
  ^

Error: Cannot find module 'express'
Require stack:
- /tmp/app.cjs
    at Module._resolveFilename (node:internal/modules/cjs/loader:1564:15)
    at node:internal/main/run_main_module:33:47 {
  code: 'MODULE_NOT_FOUND',
  requireStack: [ '/tmp/app.cjs' ]
}

Node.js v24.22.3
`;
  // The main module, after the runner's preload (Node's ES module loader).
  const nodeMainNotFound = `node:internal/modules/esm/resolve:275
    throw new ERR_MODULE_NOT_FOUND(
          ^

Error [ERR_MODULE_NOT_FOUND]: Cannot find module '/tmp/nonexistent.mjs' imported from /home/me/app/
    at finalizeResolution (node:internal/modules/esm/resolve:275:11) {
  code: 'ERR_MODULE_NOT_FOUND',
  url: 'file:///tmp/nonexistent.mjs'
}

Node.js v20.20.2
`;
  // A dependency it cannot find: who imported it says something.
  const nodeDependency = nodeMainNotFound.replace(
    "/home/me/app/",
    "/home/me/app/main.mjs",
  );
  const bun = `1 | let x = ;
            ^
error: Unexpected ;
    at /tmp/syntax.mjs:1:9

Bun v1.4.5 (Linux x64)
`;
  const deno =
    `\x1b[0m\x1b[1m\x1b[31merror\x1b[0m: Uncaught (in promise) AddrInUse: Address already in use
throw new TypeError("boom at top");
\x1b[0m\x1b[31m      ^\x1b[0m
    at file:///tmp/throws.mjs:2:7
`;
  assert.equal(reportedError(node), "TypeError: boom at top");
  assert.equal(reportedError(nodeNotFound), "Cannot find module 'express'");
  assert.equal(
    reportedError(nodeMainNotFound),
    "Cannot find module '/tmp/nonexistent.mjs'",
  );
  assert.equal(
    reportedError(nodeDependency),
    "Cannot find module '/tmp/nonexistent.mjs' imported from /home/me/app/main.mjs",
  );
  assert.equal(reportedError(bun), "Unexpected ;");
  assert.equal(reportedError(deno), "AddrInUse: Address already in use");
  // What the module itself wrote is not taken for a reason.
  assert.equal(reportedError("Note: starting\nready: no\n"), undefined);
});
