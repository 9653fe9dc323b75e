/**
 * The runtime lines the suites cover, and where each one's binary is. The
 * one list: `npm test`, `npm run stress`, `npm run measure` and `npm run
 * bench` take their defaults from it, and a variable of each picks a subset
 * (`NODE_MAJORS`, `STRESS_RUNTIMES`, `MEASURE_RUNTIMES`, `BENCH_NODE`).
 *
 * Deno is the one running the scripts. npm is the only registry CI reaches,
 * so Node comes from the `node-<os>-<arch>` packages (a real Node at
 * `package/bin/node`) and Bun from `@oven/bun-<os>-<arch>` (the package
 * `bun` ships only a stub that its postinstall replaces with that one's
 * binary), cached under `.cache/node/<major>/` and `.cache/bun/`.
 *
 * CLI: `deno run -A scripts/runtimes.ts [deno,20,22,24,26,bun]` prints each
 * line's binary, fetching what is missing.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { basename, dirname, join } from "node:path";

/** Repo root: the parent of `scripts/`. */
export const ROOT: string = fileURLToPath(new URL("..", import.meta.url));

/** Node's major lines, oldest first: 20 (end of life, the machine's own), 22, 24, 26. */
export const NODE_LINES: readonly number[] = [20, 22, 24, 26];

/** A runtime line: Deno, Bun, or a Node major line. */
export type Runtime = "deno" | "bun" | number;

/** Every line, in the order the reports show them. */
export const RUNTIMES: readonly Runtime[] = ["deno", ...NODE_LINES, "bun"];

/** The Bun line tested. */
const BUN_RANGE = "1";

/** `deno,20,bun` as runtimes; throws naming `what` on anything else. */
export function parseRuntimes(text: string, what: string): Runtime[] {
  return text.split(",").map((s) => s.trim()).filter(Boolean).map((s) => {
    if (s === "deno" || s === "bun") return s;
    const major = Number(s);
    if (!Number.isInteger(major) || major < 20) {
      throw new RangeError(
        `${what}: '${s}' is not deno, bun or a Node major line (20 or later)`,
      );
    }
    return major;
  });
}

/** The runtimes the variable `name` lists, or `fallback` (every line) when it is unset. */
export function runtimesFromEnv(
  name: string,
  fallback: readonly Runtime[] = RUNTIMES,
): Runtime[] {
  const value = Deno.env.get(name);
  return value === undefined ? [...fallback] : parseRuntimes(value, name);
}

/** How reports name a line: `deno`, `node 22`, `bun`. */
export function runtimeName(runtime: Runtime): string {
  return typeof runtime === "number" ? `node ${runtime}` : runtime;
}

/** The binary of a line; Node's and Bun's are fetched from npm on first use. */
export function runtimeBinary(runtime: Runtime): Promise<string> {
  if (runtime === "deno") return Promise.resolve(Deno.execPath());
  return runtime === "bun" ? bunBinary() : nodeBinary(runtime);
}

/**
 * Runs a command without colours; resolves its stdout, throws with its output
 * if it fails or outlives `timeoutMs`.
 */
export async function run(
  cmd: string,
  args: string[],
  cwd?: string,
  timeoutMs?: number,
): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
    signal: timeoutMs === undefined
      ? undefined
      : AbortSignal.timeout(timeoutMs),
  }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (exit ${out.code}):\n` +
        dec.decode(out.stdout) + dec.decode(out.stderr),
    );
  }
  return dec.decode(out.stdout);
}

/** What `<bin> --version` prints, or null if it won't run. */
async function binaryVersion(bin: string): Promise<string | null> {
  try {
    return (await run(bin, ["--version"])).trim();
  } catch {
    return null;
  }
}

function parseMajor(version: string | null): number | null {
  const m = /^v?(\d+)\./.exec(version ?? "");
  return m ? Number(m[1]) : null;
}

/** Major version of the `node` found on PATH, or null if there is none. */
export async function systemNodeMajor(): Promise<number | null> {
  return parseMajor(await binaryVersion("node"));
}

/** This machine's OS and architecture for npm's binary packages; throws where none exists. */
function platform(what: string, arm: string): string {
  const os = Deno.build.os;
  if (os !== "linux" && os !== "darwin") {
    throw new Error(`no ${what} npm package for OS ${os}`);
  }
  return `${os}-${Deno.build.arch === "x86_64" ? "x64" : arm}`;
}

/**
 * Packs `spec` from npm and puts its `package/bin/<name>` at
 * `<dir>/bin/<name>`, unless `wrong` says what is wrong with the binary. Staged
 * next to `dir`, so that the rename stays on one filesystem and a
 * concurrent run never sees half a binary; a good copy that a concurrent
 * run put in place meanwhile is kept.
 */
async function fetchBinary(
  spec: string,
  name: string,
  dir: string,
  wrong: (bin: string) => Promise<string | undefined>,
): Promise<string> {
  const bin = join(dir, "bin", name);
  await Deno.mkdir(dirname(dir), { recursive: true });
  const staging = await Deno.makeTempDir({
    dir: dirname(dir),
    prefix: `.${basename(dir)}-`,
  });
  try {
    await run("npm", ["pack", spec, "--silent"], staging);
    const tgz = [...Deno.readDirSync(staging)]
      .find((e) => e.isFile && e.name.endsWith(".tgz"));
    if (!tgz) throw new Error(`npm pack ${spec} produced no tarball`);
    await run("tar", ["-xzf", tgz.name, `package/bin/${name}`], staging);
    const fresh = join(staging, "package");
    await Deno.chmod(join(fresh, "bin", name), 0o755);
    const bad = await wrong(join(fresh, "bin", name));
    if (bad) throw new Error(`${spec} gave ${bad}`);
    if (await wrong(bin)) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
    try {
      await Deno.rename(fresh, dir);
    } catch (e) {
      if (await wrong(bin)) throw e;
    }
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
  return bin;
}

/**
 * A Node binary of the given major line: `"node"` when the system's is that
 * line, else `.cache/node/<major>/bin/node`.
 */
export async function nodeBinary(major: number): Promise<string> {
  if (!Number.isInteger(major) || major <= 0) {
    throw new Error(`bad Node major version: ${major}`);
  }
  if ((await systemNodeMajor()) === major) return "node";
  const dir = join(ROOT, ".cache", "node", String(major));
  const wrong = async (bin: string) => {
    const got = parseMajor(await binaryVersion(bin));
    return got === major ? undefined : `a binary of major ${got}, not ${major}`;
  };
  const bin = join(dir, "bin", "node");
  if (!(await wrong(bin))) return bin;
  const spec = `node-${platform("node-<os>-<arch>", "arm64")}@${major}`;
  return await fetchBinary(spec, "node", dir, wrong);
}

/** The highest of some release versions (`1.4.5`; pre-releases left out). */
function newest(versions: string[]): string {
  const parts = (v: string) => v.split(".").map(Number);
  const releases = versions.filter((v) => /^\d+\.\d+\.\d+$/.test(v));
  if (!releases.length) throw new Error(`no bun@${BUN_RANGE} release on npm`);
  return releases.reduce((a, b) => {
    const [x, y] = [parts(a), parts(b)];
    const i = x.findIndex((n, k) => n !== y[k]);
    return i >= 0 && y[i] > x[i] ? b : a;
  });
}

/** A Bun 1.x binary: `.cache/bun/bin/bun`, the newest 1.x when first fetched. */
export async function bunBinary(): Promise<string> {
  const dir = join(ROOT, ".cache", "bun");
  const bin = join(dir, "bin", "bun");
  if ((await binaryVersion(bin))?.startsWith(`${BUN_RANGE}.`)) return bin;

  const version = newest(
    [JSON.parse(
      await run("npm", ["view", `bun@${BUN_RANGE}`, "version", "--json"]),
    )].flat(),
  );
  const optional = JSON.parse(
    await run("npm", [
      "view",
      `bun@${version}`,
      "optionalDependencies",
      "--json",
    ]),
  ) as Record<string, string>;
  const name = `@oven/bun-${platform("@oven/bun-<os>-<arch>", "aarch64")}`;
  return await fetchBinary(
    `${name}@${optional[name] ?? version}`,
    "bun",
    dir,
    async (b) => {
      const got = await binaryVersion(b);
      return got === version ? undefined : `version ${got}, not ${version}`;
    },
  );
}

if (import.meta.main) {
  const lines = Deno.args.length
    ? parseRuntimes(Deno.args.join(","), "arguments")
    : RUNTIMES;
  for (const runtime of lines) console.log(await runtimeBinary(runtime));
}
