/**
 * The npm package as a user gets it: `npm pack` in `npm/`, the tarball
 * installed alone into an empty project, then, on each Node line and on Bun, the
 * package's entry points imported and required and made to echo bytes on
 * loopback, the README's Node example serving a bounded client, and a plain
 * Deno program run with `node --import @reuseport/net/polyfill`, printing
 * what it prints on native Deno; and tsc (moduleResolution `node16` and
 * `bundler`) resolving the types, including the polyfill's global `Deno`. Prints one line per check
 * and `pack_test: N passed, N failed`; exits 1 if any check failed.
 *
 * Needs a fresh build (`deno run -A scripts/build_npm.ts --no-test`).
 *
 * Usage: `deno run -A scripts/pack_test.ts [node major ... | bun]` (default:
 * every Node line and Bun of `scripts/runtimes.ts`)
 *
 * @module
 */

import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { freePort } from "../tools/balancing.ts";
import {
  bunBinary,
  nodeBinary,
  parseRuntimes,
  ROOT,
  run,
  RUNTIMES,
} from "./runtimes.ts";

const NPM_DIR = join(ROOT, "npm");
const TIMEOUT_MS = 60_000;
const DENO_BIN = join(ROOT, "node_modules", ".bin", "deno");
/** Files copied verbatim into the project: what users copy from the README. */
const COPIED: Record<string, string> = {
  "echo_node.mjs": join(ROOT, "examples", "echo_node.mjs"),
  "deno_program.js": join(ROOT, "tests", "fixtures", "deno_echo_program.js"),
};

interface Check {
  name: string;
  /** Resolves when the check holds; throws what went wrong otherwise. */
  run(): Promise<void>;
}

/** Runs a command in `cwd`; resolves its stdout, throws with its output if it fails. */
function sh(cmd: string, args: string[], cwd: string): Promise<string> {
  return run(cmd, args, cwd, TIMEOUT_MS);
}

function expect(actual: string, expected: string, what: string): void {
  if (actual !== expected) {
    throw new Error(
      `${what}: expected ${JSON.stringify(expected)}, got ${
        JSON.stringify(actual)
      }`,
    );
  }
}

// Programs a user would write. Each echoes "ping" through the package on
// 127.0.0.1 and prints what came back.
const ECHO = `
const listener = listen({ hostname: "127.0.0.1", port: 0 });
const accepted = listener.accept();
const client = await connect({ hostname: "127.0.0.1", port: listener.addr.port });
const server = await accepted;
await client.write(new TextEncoder().encode("ping"));
const buf = new Uint8Array(4);
let got = 0;
while (got < buf.length) {
  const n = await server.read(buf.subarray(got));
  if (n === null) break;
  got += n;
}
console.log(new TextDecoder().decode(buf.subarray(0, got)));
for (const c of [client, server, listener]) c.close();
`;

const DENO_ECHO = `
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, reusePort: true });
const serving = (async () => {
  for await (const conn of listener) await conn.readable.pipeTo(conn.writable);
})();
const conn = await Deno.connect({ port: listener.addr.port });
await conn.write(new TextEncoder().encode("ping"));
await conn.closeWrite();
let reply = "";
const buf = new Uint8Array(16);
for (let n; (n = await conn.read(buf)) !== null;) reply += new TextDecoder().decode(buf.subarray(0, n));
conn.close();
listener.close();
await serving;
console.log(reply);
`;

const PROGRAMS: Record<string, string> = {
  "esm.mjs": `import { connect, listen } from "@reuseport/net";\n${ECHO}`,
  "cjs.cjs": `const { connect, listen } = require("@reuseport/net");\n` +
    `(async () => {${ECHO}})();\n`,
  "ops.mjs":
    `import { close, op_net_accept_tcp, op_net_connect_tcp, op_net_listen_tcp, read, write } from "@reuseport/net/ops";
const [lrid, addr] = op_net_listen_tcp({ hostname: "127.0.0.1", port: 0 });
const accepted = op_net_accept_tcp(lrid);
const [crid] = await op_net_connect_tcp(addr);
const [srid] = await accepted;
await write(crid, new TextEncoder().encode("ping"));
const buf = new Uint8Array(4);
const n = await read(srid, buf);
console.log(new TextDecoder().decode(buf.subarray(0, n)));
for (const rid of [crid, srid, lrid]) close(rid);
`,
  "polyfill.mjs": `import "@reuseport/net/polyfill";\n${DENO_ECHO}`,
  "polyfill.cjs": `require("@reuseport/net/polyfill");\n` +
    `(async () => {${DENO_ECHO}})();\n`,
};

// What a TypeScript user would write. The `@ts-expect-error` lines fail the
// compile if the types resolved to `any`.
const TYPED = `
import { connect, errors, listen, type TcpConn } from "@reuseport/net";
import { op_net_listen_tcp } from "@reuseport/net/ops";
import { installPolyfill, type PolyfillReport } from "@reuseport/net/polyfill";

const report: PolyfillReport = installPolyfill();
const listener = Deno.listen({ port: 0, reusePort: true });
const addr: Deno.NetAddr = listener.addr;
export async function echo(): Promise<number | null> {
  const conn: Deno.TcpConn = await Deno.connect({ port: addr.port });
  const mine: TcpConn = await connect({ port: listen({ port: 0 }).addr.port });
  return (await conn.read(new Uint8Array(1))) ?? (await mine.read(new Uint8Array(1)));
}
export const isTaken = (err: unknown): boolean =>
  err instanceof Deno.errors.AddrInUse || err instanceof errors.AddrInUse;
export const rid: number = op_net_listen_tcp({ hostname: "127.0.0.1", port: 0 })[0];
// @ts-expect-error: a port is a number
export const wrong: string = listener.addr.port;
// @ts-expect-error: reusePort is a boolean
Deno.listen({ port: 0, reusePort: "yes" });
export { report };
`;

const TYPED_CJS = `
import { listen } from "@reuseport/net";
import "@reuseport/net/polyfill";
export const port: number = listen({ port: 0 }).addr.port + Deno.listen({ port: 0 }).addr.port;
// @ts-expect-error: a port is a number
export const wrong: string = listen({ port: 0 }).addr.port;
`;

// A program started with `node --import @reuseport/net/polyfill` imports
// nothing from the package: it names the types with a reference.
const TYPED_REF = `/// <reference types="@reuseport/net/polyfill" />
const listener: Deno.TcpListener = Deno.listen({ port: 0, reusePort: true });
// @ts-expect-error: a port is a number
export const wrong: string = listener.addr.port;
`;

function tsconfig(
  module: string,
  resolution: string,
  files: string[],
): unknown {
  return {
    compilerOptions: {
      module,
      moduleResolution: resolution,
      target: "ES2022",
      lib: ["ES2022"],
      strict: true,
      noEmit: true,
      // Our .d.ts files are checked too, against Node's types as a Node
      // project has them.
      skipLibCheck: false,
      types: ["node"],
      typeRoots: [join(ROOT, "node_modules", "@types")],
    },
    files,
  };
}

/** Packs npm/, installs it into an empty project; returns the project dir. */
async function installTarball(): Promise<{ project: string; files: string[] }> {
  const project = await Deno.makeTempDir({ prefix: "reuseport-pack-" });
  const packed = JSON.parse(
    await sh("npm", ["pack", "--json", "--pack-destination", project], NPM_DIR),
  ) as { filename: string; files: { path: string }[] }[];
  Deno.writeTextFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "pack-test", private: true, type: "module" }),
  );
  // Nothing but the tarball: it has no dependencies, so no network either.
  await sh("npm", [
    "install",
    "--offline",
    "--no-audit",
    "--no-fund",
    "--no-package-lock",
    join(project, packed[0].filename),
  ], project);
  for (const [name, text] of Object.entries(PROGRAMS)) {
    Deno.writeTextFileSync(join(project, name), text);
  }
  for (const [name, from] of Object.entries(COPIED)) {
    Deno.copyFileSync(from, join(project, name));
  }
  for (
    const [name, text] of Object.entries({
      "typed.mts": TYPED,
      "typed_cjs.cts": TYPED_CJS,
      "typed_bundler.ts": TYPED,
      "typed_ref.mts": TYPED_REF,
      "tsconfig.node16.json": JSON.stringify(
        tsconfig("node16", "node16", ["typed.mts", "typed_cjs.cts"]),
      ),
      "tsconfig.bundler.json": JSON.stringify(
        tsconfig("ESNext", "bundler", ["typed_bundler.ts"]),
      ),
      "tsconfig.reference.json": JSON.stringify(
        tsconfig("node16", "node16", ["typed_ref.mts"]),
      ),
    })
  ) Deno.writeTextFileSync(join(project, name), text);
  return { project, files: packed[0].files.map((f) => f.path) };
}

/** The package's own shape: what deno.json and the build promise. */
function packageChecks(project: string, files: string[]): Check[] {
  const installed = join(project, "node_modules", "@reuseport", "net");
  const pkg = () =>
    JSON.parse(Deno.readTextFileSync(join(installed, "package.json")));
  const hasBin = existsSync(join(ROOT, "bin.ts"));
  return [{
    name: "package.json: name, version, engines, exports, sideEffects",
    run() {
      const p = pkg();
      const deno = JSON.parse(Deno.readTextFileSync(join(ROOT, "deno.json")));
      expect(p.name, "@reuseport/net", "name");
      expect(p.version, deno.version, "version (deno.json's)");
      expect(p.license, deno.license, "license");
      expect(p.engines?.node, ">=20.16", "engines.node");
      expect(
        Object.keys(p.exports).join(" "),
        Object.keys(deno.exports).join(" "),
        "exports (deno.json's)",
      );
      expect(
        JSON.stringify(p.sideEffects),
        JSON.stringify(["./esm/polyfill.js", "./script/polyfill.js"]),
        "sideEffects",
      );
      for (const key of Object.keys(p.exports)) {
        for (const cond of ["import", "require"]) {
          for (const file of Object.values(p.exports[key][cond] ?? {})) {
            if (!existsSync(join(installed, file as string))) {
              throw new Error(`exports["${key}"].${cond}: ${file} is missing`);
            }
          }
        }
      }
      return Promise.resolve();
    },
  }, {
    name: "tarball: docs and global types in, tests out",
    run() {
      for (
        const f of [
          "README.md",
          "LICENSE",
          "CHANGELOG.md",
          "esm/_polyfill_global.d.ts",
        ]
      ) {
        if (!files.includes(f)) throw new Error(`${f} is not in the tarball`);
      }
      const tests = files.filter((f) => f.startsWith("esm/tests/"));
      if (tests.length) throw new Error(`tests packed: ${tests.join(", ")}`);
      return Promise.resolve();
    },
  }, {
    name: hasBin
      ? "bin: reuseport -> ./esm/bin.js, executable, with a node shebang"
      : "bin: none (no bin.ts)",
    run() {
      const bin = pkg().bin;
      if (!hasBin) {
        if (bin !== undefined) throw new Error(`unexpected bin: ${bin}`);
        return Promise.resolve();
      }
      expect(bin?.reuseport, "./esm/bin.js", "bin.reuseport");
      const path = join(installed, "esm", "bin.js");
      const head = Deno.readTextFileSync(path).split("\n")[0];
      expect(head, "#!/usr/bin/env node", "bin.js first line");
      if (!((Deno.statSync(path).mode ?? 0) & 0o111)) {
        throw new Error("esm/bin.js is not executable");
      }
      return Promise.resolve();
    },
  }];
}

/** tsc over the project's typed files, once per module resolution. */
function typeChecks(project: string): Check[] {
  const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
  return [
    ["node16", "moduleResolution node16"],
    ["bundler", "moduleResolution bundler"],
    ["reference", "/// <reference types> to the polyfill alone"],
  ].map(([config, what]) => ({
    name: `tsc --noEmit, ${what}`,
    async run() {
      await sh("node", [tsc, "-p", `tsconfig.${config}.json`], project);
    },
  }));
}

/** The programs, run on one Node binary. */
function runtimeChecks(project: string, node: string, label: string): Check[] {
  return Object.keys(PROGRAMS).map((file) => ({
    name: `${label}: ${file}`,
    async run() {
      expect(await sh(node, [file], project), "ping\n", `${file} printed`);
    },
  }));
}

/**
 * Starts `args` on `node` with `PORT=0`, waits for `echo server on
 * 127.0.0.1:<port>`, sends `rounds` connections a message each and checks
 * the echo, then stops the server.
 */
async function echoServer(
  node: string,
  args: string[],
  cwd: string,
  rounds: number,
  env: Record<string, string> = { PORT: "0" },
): Promise<void> {
  // A session of its own, so that the whole group can be stopped at the end
  // (npx does not pass SIGTERM on to the command it runs).
  const child = new Deno.Command("setsid", {
    args: [node, ...args],
    cwd,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(TIMEOUT_MS),
  }).spawn();
  const status = child.status;
  const stderr = new Response(child.stderr).text();
  try {
    let seen = "";
    let port = 0;
    const dec = new TextDecoder();
    const reader = child.stdout.getReader();
    while (!port) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += dec.decode(value, { stream: true });
      const m = /echo server on 127\.0\.0\.1:(\d+)/.exec(seen);
      if (m) port = Number(m[1]);
    }
    // Keep reading: a server whose stdout reader went away may die of EPIPE.
    (async () => {
      while (!(await reader.read()).done);
    })().catch(() => {});
    if (!port) {
      throw new Error(`no port announced: ${seen}${await stderr}`);
    }
    for (let i = 0; i < rounds; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      const message = `hello ${i}`;
      await conn.write(new TextEncoder().encode(message));
      await conn.closeWrite();
      const reply = await new Response(conn.readable).text();
      expect(reply, message, `echo ${i}`);
    }
  } finally {
    try {
      Deno.kill(-child.pid, "SIGINT");
    } catch {
      // Already gone: its status says how.
    }
    await status;
  }
}

/** The README's Node example and a Deno program through the polyfill. */
function userChecks(
  project: string,
  node: string,
  label: string,
  denoOutput: () => Promise<string>,
): Check[] {
  return [{
    name: `${label}: examples/echo_node.mjs serves 10 connections`,
    run: () => echoServer(node, ["echo_node.mjs"], project, 10),
  }, {
    name:
      `${label}: --import @reuseport/net/polyfill <Deno program> prints what Deno prints`,
    async run() {
      expect(
        await sh(node, [
          "--import",
          "@reuseport/net/polyfill",
          "deno_program.js",
        ], project),
        await denoOutput(),
        "output",
      );
    },
  }];
}

/**
 * The `reuseport` command: its version and help, and through `npx`, with
 * `node` (the line under test) first on `PATH`, two workers serving the
 * README's Node example on one port.
 */
function binChecks(project: string, node: string, major: number): Check[] {
  // Through the link npm made, as a user's shell finds the command.
  const command = join(project, "node_modules", ".bin", "reuseport");
  return [{
    name:
      `node ${major}: reuseport --version prints the package's version; --help the usage`,
    async run() {
      const { version } = JSON.parse(
        await Deno.readTextFile(join(NPM_DIR, "package.json")),
      );
      expect(
        await sh(node, [command, "--version"], project),
        `reuseport ${version}\n`,
        "reuseport --version",
      );
      const help = await sh(node, [command, "--help"], project);
      if (!help.startsWith("usage: reuseport serve ")) {
        throw new Error(`reuseport --help printed ${JSON.stringify(help)}`);
      }
    },
  }, {
    name:
      `node ${major}: npx reuseport serve --parallel=2 echo_node.mjs serves 10 connections`,
    run: () =>
      echoServer(
        "npx",
        ["--no-install", "reuseport", "serve", "--parallel=2", "echo_node.mjs"],
        project,
        10,
        {
          PORT: String(freePort()),
          PATH: `${dirname(node)}:${Deno.env.get("PATH") ?? ""}`,
        },
      ),
  }];
}

/**
 * The `reuseport` command run by Bun itself (npx would start it with
 * Node): two workers, Bun processes, serve the README's Node example.
 */
function bunBinCheck(project: string, bun: string): Check {
  const bin = join(project, "node_modules", ".bin", "reuseport");
  return {
    name:
      "bun: bun reuseport serve --parallel=2 echo_node.mjs serves 10 connections",
    run: () =>
      echoServer(
        bun,
        [bin, "serve", "--parallel=2", "echo_node.mjs"],
        project,
        10,
        { PORT: String(freePort()) },
      ),
  };
}

async function main(): Promise<number> {
  if (!existsSync(join(NPM_DIR, "package.json"))) {
    console.error("pack_test: no npm/package.json; run scripts/build_npm.ts");
    return 1;
  }
  const lines = Deno.args.length
    ? parseRuntimes(Deno.args.join(","), "pack_test")
    : RUNTIMES.filter((r) => r !== "deno");
  const majors = lines.filter((r) => typeof r === "number");
  let passed = 0;
  let failed = 0;
  const report = (name: string, err?: unknown) => {
    if (err === undefined) {
      passed++;
      console.log(`ok - ${name}`);
    } else {
      failed++;
      console.log(`not ok - ${name}`);
      console.log(String((err as Error)?.message ?? err).replace(/^/gm, "  "));
    }
  };

  let setup: { project: string; files: string[] };
  try {
    setup = await installTarball();
  } catch (err) {
    report("npm pack + npm install of the tarball", err);
    console.log(`pack_test: ${passed} passed, ${failed} failed`);
    return 1;
  }
  const { project, files } = setup;
  let native: Promise<string> | undefined;
  // The oracle: the same program on native Deno, run once.
  const denoOutput = () =>
    native ??= sh(
      DENO_BIN,
      ["run", "-A", "--quiet", "deno_program.js"],
      project,
    );
  try {
    const checks = [...packageChecks(project, files), ...typeChecks(project)];
    for (const major of majors) {
      let node: string;
      try {
        node = await nodeBinary(major);
      } catch (err) {
        report(`node ${major}: a binary`, err);
        continue;
      }
      checks.push(
        ...runtimeChecks(project, node, `node ${major}`),
        ...userChecks(project, node, `node ${major}`, denoOutput),
        ...binChecks(project, node, major),
      );
    }
    if (lines.includes("bun")) {
      try {
        const bun = await bunBinary();
        checks.push(
          ...runtimeChecks(project, bun, "bun"),
          ...userChecks(project, bun, "bun", denoOutput),
          bunBinCheck(project, bun),
        );
      } catch (err) {
        report("bun: a binary", err);
      }
    }
    for (const check of checks) {
      try {
        await check.run();
        report(check.name);
      } catch (err) {
        report(check.name, err);
      }
    }
  } finally {
    await Deno.remove(project, { recursive: true });
  }
  console.log(`pack_test: ${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

if (import.meta.main) {
  Deno.exit(await main());
}
