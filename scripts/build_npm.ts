/**
 * Builds the npm package into `npm/`, laid out as dnt would lay it out, with
 * the TypeScript compiler API (dnt itself cannot be installed here).
 *
 * - `npm/esm/`     ES modules, `.js` + `.d.ts`
 * - `npm/script/`  CommonJS, `.js` + `.d.ts`
 * - `npm/esm/tests/` the test suite compiled to ESM, so it runs under Node
 *   against the built output (not published)
 *
 * Then, unless `--no-test` is given, runs the compiled suite on the system
 * Node and exits with its exit code.
 *
 * Usage: `deno run -A scripts/build_npm.ts [--no-test]`
 *
 * @module
 */

import { existsSync } from "node:fs";
import ts from "typescript";
import { dirname, join, relative, sep } from "node:path";
import { ROOT } from "./runtimes.ts";

const OUT = join(ROOT, "npm");
const ESM = join(OUT, "esm");
const SCRIPT = join(OUT, "script");

/** Folders (besides the root's own `.ts` files) that hold library code. */
const LIB_DIRS = ["net", "core", "ops", "platform", "runner", "sharing"];
const TEST_DIR = "tests";
const DOCS = ["README.md", "LICENSE", "CHANGELOG.md"];
const REPOSITORY = {
  type: "git",
  url: "git+https://github.com/reuseport/net.git",
};
const DEFAULT_DESCRIPTION =
  "Deno's TCP networking API (Deno.listen, Deno.connect, Deno.Conn, ...) rebuilt in TypeScript, for Deno and Node";

/**
 * Global types that a module's `.d.ts` references: the polyfill puts `Deno`
 * on `globalThis`, which only a global declaration can type (and JSR allows
 * none, so they live apart from the module).
 */
const GLOBAL_TYPES: Record<string, string> = {
  "polyfill.ts": "_polyfill_global.d.ts",
};

/** Deno's test-module name pattern, so Deno and Node run the same files. */
const TEST_FILE = /^(?:.*[._])?test\.(?:ts|js)$/;

interface DenoJson {
  name?: string;
  version?: string;
  description?: string;
  license?: string;
  exports?: string | Record<string, string>;
}

/** `.ts` files under `dir` (recursively unless `shallow`), absolute paths. */
function tsFiles(dir: string, shallow = false): string[] {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory && !shallow) {
      found.push(...tsFiles(path));
    } else if (
      entry.isFile && entry.name.endsWith(".ts") &&
      !entry.name.endsWith(".d.ts")
    ) {
      found.push(path);
    }
  }
  return found.sort();
}

/**
 * The library's source files, absolute: the root's own `.ts` files and those
 * under `LIB_DIRS`, without tests.
 */
export function libraryFiles(): string[] {
  return [
    ...tsFiles(ROOT, true),
    ...LIB_DIRS.flatMap((d) => tsFiles(join(ROOT, d))),
  ].filter((f) => !TEST_FILE.test(f.slice(f.lastIndexOf(sep) + 1)));
}

/** Compiled test modules under `dir` (default `npm/esm/tests`), sorted. */
export function compiledTestFiles(dir: string = join(ESM, TEST_DIR)): string[] {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) found.push(...compiledTestFiles(path));
    else if (entry.isFile && TEST_FILE.test(entry.name)) found.push(path);
  }
  return found.sort();
}

/** `./ops/mod.ts` -> `./esm/ops/mod.js` (or `.d.ts`). */
function outPath(kind: "esm" | "script", src: string, ext: string): string {
  const rel = relative(ROOT, join(ROOT, src)).split(sep).join("/");
  return `./${kind}/${rel.replace(/\.ts$/, ext)}`;
}

const baseOptions = {
  target: "ES2022",
  lib: ["ES2022"],
  types: ["node"],
  typeRoots: [join(ROOT, "node_modules", "@types")],
  strict: true,
  skipLibCheck: true,
  isolatedModules: true,
  // Library code imports with `.ts` extensions, as Deno needs; Node needs
  // `.js` in the output.
  rewriteRelativeImportExtensions: true,
  rootDir: ROOT,
  newLine: "lf",
};

function options(
  extra: Record<string, unknown>,
): ts.CompilerOptions {
  const { options, errors } = ts.convertCompilerOptionsFromJson(
    { ...baseOptions, ...extra },
    ROOT,
  );
  if (errors.length) throw new Error(format(errors));
  return options;
}

const formatHost: ts.FormatDiagnosticsHost = {
  getCanonicalFileName: (f) => f,
  getCurrentDirectory: () => ROOT,
  getNewLine: () => "\n",
};

function format(diags: readonly ts.Diagnostic[]): string {
  return Deno.stderr.isTerminal()
    ? ts.formatDiagnosticsWithColorAndContext(diags, formatHost)
    : ts.formatDiagnostics(diags, formatHost);
}

/**
 * Compiles `roots` with `opts`, writing only files that `keep` accepts.
 * Returns the error diagnostics; nothing is written if type checking fails.
 */
function compile(
  roots: string[],
  opts: ts.CompilerOptions,
  keep: (file: string) => boolean = () => true,
): ts.Diagnostic[] {
  const program = ts.createProgram({ rootNames: roots, options: opts });
  const commonJs = opts.module === ts.ModuleKind.CommonJS;
  const pre = ts.getPreEmitDiagnostics(program).filter((d) =>
    !(commonJs && d.code === IMPORT_META_IN_COMMONJS)
  );
  if (pre.some((d) => d.category === ts.DiagnosticCategory.Error)) {
    return [...pre];
  }
  const writeFile: ts.WriteFileCallback = (file, text, bom) => {
    if (!keep(file)) return;
    if (file.endsWith(".d.ts")) text = rewriteDtsSpecifiers(text);
    ts.sys.writeFile(file, text, bom);
  };
  const emitted = program.emit(
    undefined,
    writeFile,
    undefined,
    undefined,
    commonJs ? { before: [importMetaUrlAsFilename] } : undefined,
  );
  return [...pre, ...emitted.diagnostics];
}

/** TS1343: `import.meta` in a build whose output is CommonJS. */
const IMPORT_META_IN_COMMONJS = 1343;

/**
 * The CommonJS build has no `import.meta`: `import.meta.url` becomes the
 * file's URL from `__filename`, as dnt's shim does.
 */
const importMetaUrlAsFilename: ts.TransformerFactory<ts.SourceFile> = (
  context,
) =>
(file) => {
  const f = context.factory;
  const visit = (node: ts.Node): ts.Node => {
    if (
      ts.isPropertyAccessExpression(node) && node.name.text === "url" &&
      ts.isMetaProperty(node.expression) &&
      node.expression.keywordToken === ts.SyntaxKind.ImportKeyword
    ) {
      // require("node:url").pathToFileURL(__filename).href
      return f.createPropertyAccessExpression(
        f.createCallExpression(
          f.createPropertyAccessExpression(
            f.createCallExpression(f.createIdentifier("require"), undefined, [
              f.createStringLiteral("node:url"),
            ]),
            "pathToFileURL",
          ),
          undefined,
          [f.createIdentifier("__filename")],
        ),
        "href",
      );
    }
    return ts.visitEachChild(node, visit, context);
  };
  return ts.visitNode(file, visit) as ts.SourceFile;
};

/**
 * Declaration emit keeps `.ts` in relative specifiers; consumers' tsc would
 * then look for `.ts` files that aren't shipped.
 */
function rewriteDtsSpecifiers(text: string): string {
  return text.replace(
    /((?:from|import)\s*\(?\s*["'])(\.{1,2}\/[^"']*?)\.([cm]?)ts(["'])/g,
    (_m, head, path, c, tail) => `${head}${path}.${c}js${tail}`,
  );
}

function copyTree(from: string, to: string, skip: (name: string) => boolean) {
  if (!existsSync(from)) return;
  for (const entry of Deno.readDirSync(from)) {
    const src = join(from, entry.name);
    const dst = join(to, entry.name);
    if (entry.isDirectory) copyTree(src, dst, skip);
    else if (entry.isFile && !skip(entry.name)) {
      Deno.mkdirSync(dirname(dst), { recursive: true });
      Deno.copyFileSync(src, dst);
    }
  }
}

function writeJson(path: string, value: unknown): void {
  Deno.mkdirSync(dirname(path), { recursive: true });
  Deno.writeTextFileSync(path, JSON.stringify(value, null, 2) + "\n");
}

/** Builds `npm/`. Returns false (after printing why) if compilation failed. */
export function build(): boolean {
  // Cleaned first so a failed build never leaves an old one looking current.
  if (existsSync(OUT)) Deno.removeSync(OUT, { recursive: true });
  const configPath = join(ROOT, "deno.json");
  if (!existsSync(configPath)) {
    console.error("build_npm: deno.json not found in the repo root");
    return false;
  }
  const config: DenoJson = JSON.parse(Deno.readTextFileSync(configPath));
  if (!config.name || !config.version) {
    console.error("build_npm: deno.json needs `name` and `version`");
    return false;
  }
  const rawExports = typeof config.exports === "string"
    ? { ".": config.exports }
    : config.exports ?? { ".": "./mod.ts" };
  const entries = Object.entries(rawExports)
    .filter(([, file]) => existsSync(join(ROOT, file)));
  if (!entries.length) {
    console.error("build_npm: none of deno.json's exports exist");
    return false;
  }
  const hasBin = existsSync(join(ROOT, "bin.ts"));

  const libRoots = [
    ...new Set([
      ...libraryFiles(),
      ...entries.map(([, file]) => join(ROOT, file)),
    ]),
  ];
  // `*.deno.ts` files need Deno's own types: `deno check` covers them.
  const testRoots = tsFiles(join(ROOT, TEST_DIR)).filter((f) =>
    !f.endsWith(".deno.ts")
  );
  const testOut = join(ESM, TEST_DIR) + sep;
  // The measuring tools the tests share with scripts/ (not published either).
  const toolsOut = join(ESM, "tools") + sep;

  const builds: [string, () => ts.Diagnostic[]][] = [
    ["ES module build (npm/esm)", () =>
      compile(
        libRoots,
        options({
          module: "NodeNext",
          moduleResolution: "NodeNext",
          declaration: true,
          outDir: ESM,
        }),
      )],
    ["CommonJS build (npm/script)", () =>
      compile(
        libRoots,
        options({
          module: "CommonJS",
          moduleResolution: "Node10",
          esModuleInterop: true,
          declaration: true,
          outDir: SCRIPT,
        }),
      )],
    ["test build (npm/esm/tests)", () =>
      compile(
        testRoots,
        options({
          module: "NodeNext",
          moduleResolution: "NodeNext",
          outDir: ESM,
        }),
        // The library half of this program was already written above.
        (file) => file.startsWith(testOut) || file.startsWith(toolsOut),
      )],
  ];
  // The test program re-checks the library; report each error once.
  const seen = new Set<string>();
  let errors = 0;
  for (const [label, run] of builds) {
    const diags = run().filter((d) => {
      if (d.category !== ts.DiagnosticCategory.Error) return false;
      const key = `${d.file?.fileName}:${d.start}:${d.code}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    if (!diags.length) continue;
    errors += diags.length;
    console.error(`build_npm: errors in the ${label}:\n`);
    console.error(format(diags));
  }
  if (errors) {
    console.error(`build_npm: ${errors} TypeScript error(s)`);
    return false;
  }

  // Fixtures and other non-TypeScript files the tests read next to them.
  copyTree(
    join(ROOT, TEST_DIR),
    join(ESM, TEST_DIR),
    (name) => name.endsWith(".ts"),
  );
  writeJson(join(ESM, "package.json"), { type: "module" });
  writeJson(join(SCRIPT, "package.json"), { type: "commonjs" });

  // One copy of the global types, in esm/, for both builds: a program that
  // imports the polyfill and also requires it would otherwise declare the
  // globals twice, and tsc rejects that.
  for (const [module, types] of Object.entries(GLOBAL_TYPES)) {
    if (!existsSync(join(ROOT, module))) continue;
    Deno.writeTextFileSync(
      join(ESM, types),
      rewriteDtsSpecifiers(Deno.readTextFileSync(join(ROOT, types))),
    );
    for (const dir of [ESM, SCRIPT]) {
      const dts = join(dir, module.replace(/\.ts$/, ".d.ts"));
      const ref = relative(dirname(dts), join(ESM, types)).split(sep).join("/");
      Deno.writeTextFileSync(
        dts,
        `/// <reference path="${ref.startsWith(".") ? ref : `./${ref}`}" />\n` +
          Deno.readTextFileSync(dts),
      );
    }
  }

  if (hasBin) {
    // Whatever the source's shebang says (maybe `deno run`), npm's bin runs
    // under Node.
    const binJs = join(ESM, "bin.js");
    const js = Deno.readTextFileSync(binJs).replace(/^#!.*\n/, "");
    Deno.writeTextFileSync(binJs, "#!/usr/bin/env node\n" + js);
    Deno.chmodSync(binJs, 0o755);
  }

  const docs = DOCS.filter((f) => existsSync(join(ROOT, f)));
  for (const f of docs) Deno.copyFileSync(join(ROOT, f), join(OUT, f));

  const exportsMap: Record<string, unknown> = {};
  for (const [key, file] of entries) {
    exportsMap[key] = {
      import: {
        types: outPath("esm", file, ".d.ts"),
        default: outPath("esm", file, ".js"),
      },
      require: {
        types: outPath("script", file, ".d.ts"),
        default: outPath("script", file, ".js"),
      },
    };
  }
  const main = entries.find(([key]) => key === ".")?.[1] ?? entries[0][1];
  const polyfills = entries
    .filter(([key, file]) => /polyfill/.test(key) || /polyfill/.test(file))
    .flatMap(([, file]) => [
      outPath("esm", file, ".js"),
      outPath("script", file, ".js"),
    ]);

  writeJson(join(OUT, "package.json"), {
    name: config.name,
    version: config.version,
    description: config.description ?? DEFAULT_DESCRIPTION,
    license: config.license ?? "MIT",
    repository: REPOSITORY,
    engines: { node: ">=20.16" },
    main: outPath("script", main, ".js"),
    module: outPath("esm", main, ".js"),
    types: outPath("script", main, ".d.ts"),
    exports: exportsMap,
    // The polyfill installs globals on import; nothing else may be dropped
    // by a bundler's tree shaking.
    sideEffects: polyfills.length ? polyfills : false,
    ...(hasBin ? { bin: { reuseport: "./esm/bin.js" } } : {}),
    files: ["esm/", "script/", "!esm/tests/", "!esm/tools/", ...docs],
  });
  return true;
}

/**
 * Runs the compiled suite on the system Node; returns its exit code. The
 * files go one by one: Node 22+ takes a directory for a glob that matches no
 * test file.
 */
async function runNodeTests(): Promise<number> {
  const files = compiledTestFiles().map((f) => relative(ROOT, f));
  if (!files.length) {
    console.error("build_npm: no compiled test files under npm/esm/tests");
    return 1;
  }
  const args = ["--test", "--test-reporter=spec", ...files];
  console.log(`$ node ${args.join(" ")}`);
  const { code } = await new Deno.Command("node", {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return code;
}

if (import.meta.main) {
  const started = performance.now();
  if (!build()) Deno.exit(1);
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`build_npm: built ${relative(ROOT, OUT)}/ in ${secs}s`);
  if (!Deno.args.includes("--no-test")) Deno.exit(await runNodeTests());
}
