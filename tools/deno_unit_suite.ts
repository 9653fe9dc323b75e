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

/** Runs the test on Deno, natively (`polyfill` "") or with ours in place. */
async function runDeno(
  dir: string,
  polyfill: string,
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
      ...DENO_CI_FLAGS,
      ...(polyfill ? [`--preload=${preload}`] : []),
      `--junit-path=${junit}`,
      ...(filter ? [`--filter=${filter}`] : []),
      "net_test.ts",
    ],
    dir,
    { TMPDIR: join(dir, "tmp") },
  );
  if (!existsSync(junit)) {
    throw new Error(`deno test wrote no report:\n${stdout}\n${stderr}`);
  }
  return fromJunit(readFileSync(junit, "utf8"));
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
      join(js, "runner.mjs"),
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

/** Prints one run and returns its counts. */
function report(label: string, summary: Summary): void {
  const total = summary.passed.length + summary.failed.length +
    summary.ignored.length;
  console.log(
    `\n## ${label}: ${summary.passed.length} passed, ${summary.failed.length} failed, ${summary.ignored.length} ignored of ${total}`,
  );
  for (const { name, error } of summary.failed) {
    console.log(`  FAILED ${name}: ${error.slice(0, 300)}`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      deno: { type: "string", default: Deno.env.get("DENO_SRC") },
      rev: { type: "string", default: "HEAD" },
      runtimes: {
        type: "string",
        default: "native,override,20,22,24,26,bun",
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
  try {
    mkdirSync(join(dir, "tmp"));
    mkdirSync(join(dir, "tests", "testdata", "assets"), { recursive: true });
    writeFileSync(join(dir, FIXTURE), fixture);
    writeFileSync(join(dir, "net_test.ts"), source);
    let js: string | undefined;
    for (const runtime of values.runtimes.split(",").map((s) => s.trim())) {
      let summary: Summary;
      let label: string;
      if (runtime === "native" || runtime === "override") {
        label = `deno ${runtime}`;
        const polyfill = runtime === "native"
          ? ""
          : pathToFileURL(join(ROOT, "polyfill.ts")).href;
        summary = await runDeno(dir, polyfill, values.filter);
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
      report(label, summary);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const native = results["deno native"];
  if (native) {
    const passing = new Set(native.passed);
    console.log("\n## natively passing tests that fail elsewhere");
    for (const [label, summary] of Object.entries(results)) {
      const lost = summary.failed.filter((f) => passing.has(f.name));
      console.log(
        `  ${label}: ${lost.length}${
          lost.length ? ` (${lost.map((f) => f.name).join(", ")})` : ""
        }`,
      );
    }
  }
  if (values.json) {
    writeFileSync(values.json, JSON.stringify(results, null, 2) + "\n");
  }
}

if (import.meta.main) await main();
