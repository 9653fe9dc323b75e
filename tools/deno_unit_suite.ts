/**
 * Runs Deno's own `tests/unit/net_test.ts`, whole, against this package and
 * counts: on native Deno (the baseline, with the flags Deno's CI gives
 * `tests/unit`), on Deno with `installPolyfill({ override: true })`, and
 * through the polyfill on Node and Bun. A developer's measurement, not a CI
 * step: it needs a Deno source tree, which CI cannot fetch; Deno's test file
 * is read from it at run time and never kept in this repository.
 *
 * ```sh
 * deno run -A tools/deno_unit_suite.ts --deno=<deno checkout or git dir> \
 *   [--runtimes=native,override,20,22,24,26,bun] [--filter=netUdp] [--json=out.json]
 * ```
 *
 * `native-stable` and `override-stable` run Deno without the `--unstable-*`
 * flags. Each failure is printed with its error; on Node and Bun the tests
 * that cannot pass there (`OFF_DENO`: the permission sandbox, Unix
 * datagrams, the file API) are marked expected. Any other failure, and on
 * Deno with ours any test that passes natively and fails, makes it exit 1.
 *
 * `--deno` (or `DENO_SRC`) is a checkout (the file is read from its work
 * tree) or a git directory (read with `git show <--rev, default HEAD>:…`).
 * Node and Bun load the polyfill from `npm/esm/polyfill.js`: run
 * `deno run -A scripts/build_npm.ts --no-test` first. Our stand-ins for
 * Deno's `test_util.ts` and `Deno.test` are `tools/_deno_unit/`.
 *
 * @module
 */
import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import ts from "typescript";
import { bunBinary, nodeBinary, ROOT } from "../scripts/runtimes.ts";
import type { Summary } from "./_deno_unit/runner.ts";

/** The files of Deno's tree the test reads: the test itself, a fixture. */
const TEST = "tests/unit/net_test.ts";
const FIXTURE = "tests/testdata/assets/hello.txt";

/** How Deno's CI runs `tests/unit` (tests/unit/mod.rs), minus `--config`. */
const DENO_CI_FLAGS = [
  "test",
  "--no-config",
  "--no-lock",
  "--unstable-net",
  "--unstable-vsock",
  "--location=http://127.0.0.1:4545/",
  "--no-prompt",
  "-A",
];

const RUN_TIMEOUT_MS = 10 * 60_000;

const SANDBOX = "Deno's permission sandbox (Node and Bun have none)";
const UNIXPACKET =
  "Unix datagram sockets (none on Node or Bun: NotSupported saying why)";
const FILES = "Deno's file API (Deno.open, Deno.makeTempFile): not networking";

/**
 * The tests that cannot pass through the polyfill on Node and Bun, and why
 * (the README's differences table lists them). Any other failure there, and
 * on Deno with the override any test that passes natively and fails, is one
 * to fix: the run exits 1.
 */
export const OFF_DENO: Readonly<Record<string, string>> = {
  netUnixPacketListenClose: UNIXPACKET,
  netUnixPacketAnonListenClose: UNIXPACKET,
  netUnixPacketAnonListenWritePermission: UNIXPACKET,
  netUnixPacketSendReceive: UNIXPACKET,
  netUnixPacketListenCloseWhileIterating: UNIXPACKET,
  netUnixPacketAbstractPathAddr: UNIXPACKET,
  netUnixListenWritePermission: SANDBOX,
  netUnixPacketListenWritePermission: SANDBOX,
  netTcpPermissionErrorWithAbortSignalDoesNotLeak: SANDBOX,
  resolveDnsPermissionErrorWithAbortSignalDoesNotLeak: SANDBOX,
  netUnixListenRequiresAllowNet: SANDBOX,
  netUnixConnectRequiresAllowNet: SANDBOX,
  netUnixScopedAllowNetMatchesExactly: SANDBOX,
  netUnixPacketListenRequiresAllowNet: SANDBOX,
  netUnixPacketSendRequiresAllowNet: SANDBOX,
  netUnixScopedAllowNetGrantsAccess: SANDBOX,
  netUnixAllowNetRejectsNonAbsolutePath: SANDBOX,
  netUnixScopedAllowNetNormalizesRulePath: SANDBOX,
  readableStreamTextEncoderPipe: FILES,
  writableStream: FILES,
};

/** On Node 20 only: what the test itself uses and Node 20 lacks. */
const NODE_20: Readonly<Record<string, string>> = {
  netCloseWriteSuccess:
    "the test calls Promise.withResolvers, which Node 20 lacks (ES2024)",
};

/** Runs a command to its end; resolves its output whatever its exit code. */
function exec(
  cmd: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, {
      cwd,
      env: { ...Deno.env.toObject(), NO_COLOR: "1", ...env },
      timeout: RUN_TIMEOUT_MS,
      maxBuffer: 64 * 1024 * 1024,
    }, (_err, stdout, stderr) => resolve({ stdout, stderr }));
  });
}

/** A file of Deno's tree, from a work tree or a git directory. */
async function readDeno(src: string, rev: string, path: string) {
  if (existsSync(join(src, path))) return readFileSync(join(src, path), "utf8");
  const { stdout, stderr } = await exec(
    "git",
    ["--git-dir", src, "show", `${rev}:${path}`],
    ROOT,
    {},
  );
  if (!stdout) throw new Error(`cannot read ${path} from ${src}: ${stderr}`);
  return stdout;
}

/** Our `test_util.ts` with its constants (`POLYFILL`, `PRELOAD`) filled in. */
function testUtil(values: Record<string, string>): string {
  let text = readFileSync(
    join(ROOT, "tools", "_deno_unit", "test_util.ts"),
    "utf8",
  );
  for (const [name, value] of Object.entries(values)) {
    const line = `const ${name}: string = "";`;
    if (!text.includes(line)) throw new Error(`test_util.ts lost '${line}'`);
    text = text.replace(
      line,
      `const ${name}: string = ${JSON.stringify(value)};`,
    );
  }
  return text;
}

/** A module that puts ours in place of Deno's, or fails saying it could not. */
function overrideModule(polyfill: string): string {
  return `import { installPolyfill } from ${JSON.stringify(polyfill)};
const report = installPolyfill({ override: true });
if (!report.installed.includes("listen")) {
  throw new Error("the override did not take: " + JSON.stringify(report));
}
`;
}

/** Summary of a JUnit report of `deno test`. */
function fromJunit(xml: string): Summary {
  const summary: Summary = { passed: [], failed: [], ignored: [] };
  const unescape = (s: string) =>
    s.replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">")
      .replace(/&#39;|&apos;/g, "'").replace(/&amp;/g, "&");
  for (
    const [, name, body] of xml.matchAll(
      /<testcase name="([^"]*)"[^>]*>([\s\S]*?)<\/testcase>/g,
    )
  ) {
    const failure = /<failure message="([^"]*)"/.exec(body);
    if (failure) {
      summary.failed.push({
        name: unescape(name),
        error: unescape(failure[1]).split("\n").slice(0, 6).join(" "),
      });
    } else if (body.includes("<skipped")) summary.ignored.push(unescape(name));
    else summary.passed.push(unescape(name));
  }
  return summary;
}

/**
 * Runs the test on Deno, natively (`polyfill` "") or with ours in place;
 * `stable` without the `--unstable-*` flags.
 */
async function runDeno(
  dir: string,
  polyfill: string,
  stable: boolean,
  filter: string,
): Promise<Summary> {
  const preload = join(dir, "override.ts");
  writeFileSync(preload, overrideModule(polyfill));
  writeFileSync(
    join(dir, "test_util.ts"),
    testUtil(polyfill ? { POLYFILL: polyfill, PRELOAD: preload } : {}),
  );
  const junit = join(dir, "junit.xml");
  rmSync(junit, { force: true });
  const { stdout, stderr } = await exec(
    Deno.execPath(),
    [
      ...DENO_CI_FLAGS.filter((f) => !(stable && f.startsWith("--unstable"))),
      ...(polyfill ? [`--preload=${preload}`] : []),
      `--junit-path=${junit}`,
      ...(filter ? [`--filter=${filter}`] : []),
      "net_test.ts",
    ],
    dir,
    { TMPDIR: join(dir, "tmp") },
  );
  if (existsSync(junit)) return fromJunit(readFileSync(junit, "utf8"));
  return fromProgress(stdout, stderr);
}

/**
 * Summary of `deno test`'s progress lines, when the process exited before it
 * wrote its report (native Deno without `--unstable-net` exits at
 * `listen({ reusePort: true })`): the test it was in failed with what it
 * printed; the rest were not run.
 */
function fromProgress(stdout: string, stderr: string): Summary {
  const summary: Summary = { passed: [], failed: [], ignored: [] };
  const total = Number(/running (\d+) tests/.exec(stdout)?.[1]);
  if (!total) throw new Error(`deno test ran nothing:\n${stdout}\n${stderr}`);
  for (const [, name, result] of stdout.matchAll(/^(\S+) \.\.\.(.*)$/gm)) {
    if (/\bok\b/.test(result)) summary.passed.push(name);
    else if (/\bignored\b/.test(result)) summary.ignored.push(name);
    else {
      summary.failed.push({
        name,
        error: result.includes("FAILED")
          ? "failed; why was not printed (the process exited later)"
          : `the process exited: ${
            (stdout + stderr).trim().split("\n").slice(-2).join(" ")
          }`,
      });
    }
  }
  summary.notRun = total - summary.passed.length - summary.failed.length -
    summary.ignored.length;
  return summary;
}

/** Writes the JavaScript Node and Bun run: the test, our test_util, the runner. */
function writeJs(dir: string, source: string, polyfill: string): string {
  const js = join(dir, "js");
  mkdirSync(js, { recursive: true });
  const compile = (text: string) =>
    ts.transpileModule(text, {
      compilerOptions: {
        // ES2022: `using` is rewritten for Node 20 and 22, which lack it.
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
      },
    }).outputText;
  writeFileSync(
    join(js, "net_test.mjs"),
    compile(source.replace('"./test_util.ts"', '"./test_util.mjs"')),
  );
  writeFileSync(
    join(js, "test_util.mjs"),
    compile(testUtil({ POLYFILL: polyfill })),
  );
  writeFileSync(
    join(js, "runner.mjs"),
    compile(
      readFileSync(join(ROOT, "tools", "_deno_unit", "runner.ts"), "utf8"),
    ),
  );
  writeFileSync(
    join(js, "main.mjs"),
    'import process from "node:process";\nimport { main } from "./runner.mjs";\nawait main(process.argv.slice(2));\n',
  );
  return js;
}

/** Runs the test on Node or Bun through the polyfill. */
async function runOther(
  binary: string,
  args: string[],
  dir: string,
  js: string,
  polyfill: string,
  filter: string,
): Promise<Summary> {
  const { stdout, stderr } = await exec(
    binary,
    [
      ...args,
      join(js, "main.mjs"),
      polyfill,
      join(js, "net_test.mjs"),
      filter,
    ],
    dir,
    { TMPDIR: join(dir, "tmp") },
  );
  const line = stdout.split("\n").find((l) => l.startsWith("SUMMARY "));
  if (!line) throw new Error(`the runner ended early:\n${stdout}\n${stderr}`);
  return JSON.parse(line.slice("SUMMARY ".length));
}

/**
 * Prints one run, each failure with its error and, where it is expected,
 * why; returns the unexpected failures: for Node and Bun those not in
 * `expected`, on Deno those of tests that pass natively (`nativePassed`).
 */
function report(
  label: string,
  summary: Summary,
  expected: Readonly<Record<string, string>>,
  nativePassed?: Set<string>,
): string[] {
  const total = summary.passed.length + summary.failed.length +
    summary.ignored.length;
  const notRun = summary.notRun ?? 0;
  console.log(
    `\n## ${label}: ${summary.passed.length} passed, ${summary.failed.length} failed, ${summary.ignored.length} ignored${
      notRun ? `, ${notRun} not run (the process exited)` : ""
    } of ${total + notRun}`,
  );
  const unexpected: string[] = [];
  for (const { name, error } of summary.failed) {
    const why = label.startsWith("deno native")
      ? "native Deno: the baseline"
      : nativePassed
      ? (nativePassed.has(name)
        ? undefined
        : "does not pass on native Deno either")
      : expected[name];
    if (!why) unexpected.push(name);
    console.log(
      `  FAILED ${name}${why ? ` [expected: ${why}]` : ""}: ${
        error.slice(0, 300)
      }`,
    );
  }
  return unexpected;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      deno: { type: "string", default: Deno.env.get("DENO_SRC") },
      rev: { type: "string", default: "HEAD" },
      runtimes: {
        type: "string",
        default:
          "native,override,native-stable,override-stable,20,22,24,26,bun",
      },
      filter: { type: "string", default: "" },
      json: { type: "string" },
    },
  });
  if (!values.deno) {
    throw new Error(
      "--deno=<path>: a Deno checkout or git directory (or set DENO_SRC)",
    );
  }
  const source = await readDeno(values.deno, values.rev, TEST);
  const fixture = await readDeno(values.deno, values.rev, FIXTURE);
  const npmPolyfill = join(ROOT, "npm", "esm", "polyfill.js");

  const dir = mkdtempSync(join(tmpdir(), "deno-unit-suite-"));
  const results: Record<string, Summary> = {};
  const unexpected: string[] = [];
  try {
    mkdirSync(join(dir, "tmp"));
    mkdirSync(join(dir, "tests", "testdata", "assets"), { recursive: true });
    writeFileSync(join(dir, FIXTURE), fixture);
    writeFileSync(join(dir, "net_test.ts"), source);
    let js: string | undefined;
    for (const runtime of values.runtimes.split(",").map((s) => s.trim())) {
      let summary: Summary;
      let label: string;
      if (/^(native|override)(-stable)?$/.test(runtime)) {
        label = `deno ${runtime}`;
        const polyfill = runtime.startsWith("native")
          ? ""
          : pathToFileURL(join(ROOT, "polyfill.ts")).href;
        summary = await runDeno(
          dir,
          polyfill,
          runtime.endsWith("-stable"),
          values.filter,
        );
      } else {
        if (!existsSync(npmPolyfill)) {
          throw new Error(
            "no npm/esm/polyfill.js: run deno run -A scripts/build_npm.ts --no-test",
          );
        }
        const polyfill = pathToFileURL(npmPolyfill).href;
        js ??= writeJs(dir, source, polyfill);
        const bun = runtime === "bun";
        label = bun ? "bun" : `node ${runtime}`;
        summary = await runOther(
          bun ? await bunBinary() : await nodeBinary(Number(runtime)),
          bun ? ["run"] : [],
          dir,
          js,
          polyfill,
          values.filter,
        );
      }
      results[label] = summary;
      const onDeno = label.startsWith("deno");
      const native = results[
        label.endsWith("-stable") ? "deno native-stable" : "deno native"
      ];
      if (onDeno && !label.startsWith("deno native") && !native) {
        console.log(`(run native first to check ${label} against it)`);
      }
      unexpected.push(
        ...report(
          label,
          summary,
          runtime === "20" ? { ...OFF_DENO, ...NODE_20 } : OFF_DENO,
          onDeno && native ? new Set(native.passed) : undefined,
        ).map((name) => `${label}: ${name}`),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  console.log(
    `\n## unexpected failures: ${unexpected.length}${
      unexpected.map((name) => `\n  ${name}`).join("")
    }`,
  );
  if (values.json) {
    writeFileSync(values.json, JSON.stringify(results, null, 2) + "\n");
  }
  if (unexpected.length) Deno.exitCode = 1;
}

if (import.meta.main) await main();
