/**
 * Finds (and if needed fetches) a Node binary of a given major line, so the
 * compiled test suite can run on Node versions other than the system one.
 *
 * The only registry reachable from CI is npm, so binaries come from the
 * `node-<os>-<arch>` npm packages, which ship a real Node at
 * `package/bin/node`. They are cached under `.cache/node/<major>/bin/node`.
 *
 * CLI: `deno run -A scripts/node_versions.ts 22 24 26` prints one path a line
 * (the default).
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { join } from "node:path";

/** Repo root: the parent of `scripts/`. */
export const ROOT: string = fileURLToPath(new URL("..", import.meta.url));

/** Major version of the `node` found on PATH, or null if there is none. */
export async function systemNodeMajor(): Promise<number | null> {
  try {
    const { success, stdout } = await new Deno.Command("node", {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!success) return null;
    return parseMajor(new TextDecoder().decode(stdout));
  } catch {
    return null;
  }
}

function parseMajor(version: string): number | null {
  const m = /^v?(\d+)\./.exec(version.trim());
  return m ? Number(m[1]) : null;
}

/** npm package that carries the Node binary for this machine. */
function nodePackageName(): string {
  const os = Deno.build.os;
  if (os !== "linux" && os !== "darwin") {
    throw new Error(`no node-<os>-<arch> npm package for OS ${os}`);
  }
  const arch = Deno.build.arch === "x86_64" ? "x64" : "arm64";
  return `node-${os}-${arch}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
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

/** Runs `<bin> --version` and returns its major, or null if it won't run. */
async function binaryMajor(bin: string): Promise<number | null> {
  try {
    return parseMajor(await run(bin, ["--version"]));
  } catch {
    return null;
  }
}

/**
 * Returns the path of a Node binary of the given major line: `"node"` when
 * the system node already is that major, else a cached binary under
 * `.cache/node/<major>/bin/node`, fetched from npm on first use.
 */
export async function nodeBinary(major: number): Promise<string> {
  if (!Number.isInteger(major) || major <= 0) {
    throw new Error(`bad Node major version: ${major}`);
  }
  if ((await systemNodeMajor()) === major) return "node";

  const dir = join(ROOT, ".cache", "node", String(major));
  const bin = join(dir, "bin", "node");
  if (await exists(bin) && (await binaryMajor(bin)) === major) return bin;

  await Deno.mkdir(join(ROOT, ".cache", "node"), { recursive: true });
  // Stage next to the final place so the rename stays on one filesystem.
  const staging = await Deno.makeTempDir({
    dir: join(ROOT, ".cache", "node"),
    prefix: `.${major}-`,
  });
  try {
    const spec = `${nodePackageName()}@${major}`;
    await run("npm", [
      "pack",
      spec,
      "--pack-destination",
      staging,
      "--silent",
    ], staging);
    const tgz = [...Deno.readDirSync(staging)]
      .find((e) => e.isFile && e.name.endsWith(".tgz"));
    if (!tgz) throw new Error(`npm pack ${spec} produced no tarball`);
    await run("tar", [
      "-xzf",
      join(staging, tgz.name),
      "-C",
      staging,
      "package/bin/node",
    ]);

    const fresh = join(staging, "out");
    await Deno.mkdir(join(fresh, "bin"), { recursive: true });
    await Deno.rename(
      join(staging, "package", "bin", "node"),
      join(fresh, "bin", "node"),
    );
    await Deno.chmod(join(fresh, "bin", "node"), 0o755);
    const got = await binaryMajor(join(fresh, "bin", "node"));
    if (got !== major) {
      throw new Error(`${spec} gave a binary of major ${got}, not ${major}`);
    }

    // A stale or broken copy is replaced; a copy that a concurrent run just
    // put in place is kept and ours is dropped.
    if (await exists(dir) && (await binaryMajor(bin)) !== major) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
    try {
      await Deno.rename(fresh, dir);
    } catch (e) {
      if (!(await exists(bin))) throw e;
    }
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
  return bin;
}

if (import.meta.main) {
  const majors = Deno.args.length ? Deno.args : ["22", "24", "26"];
  for (const arg of majors) {
    console.log(await nodeBinary(Number(arg)));
  }
}
