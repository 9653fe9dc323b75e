/**
 * Finds (and if needed fetches) a Bun 1.x binary for the test matrix. The
 * npm package `bun` ships no binary itself: its `bin/bun.exe` is a stub that
 * its postinstall script replaces with the binary of the optional dependency
 * for this platform (`@oven/bun-linux-x64`, ...). So that platform package,
 * at the version `bun@1` names, is packed and its `package/bin/bun` kept at
 * `.cache/bun/bin/bun`. npm is the only registry used.
 *
 * CLI: `deno run -A scripts/bun_binary.ts` prints the path.
 *
 * @module
 */

import { join } from "node:path";
import { ROOT, run } from "./node_versions.ts";

/** The Bun line tested. */
const BUN_RANGE = "1";

/** `@oven/bun-<os>-<arch>`: the package with this machine's binary. */
function platformPackage(): string {
  const os = Deno.build.os;
  if (os !== "linux" && os !== "darwin") {
    throw new Error(`no @oven/bun-<os>-<arch> npm package for OS ${os}`);
  }
  const arch = Deno.build.arch === "x86_64" ? "x64" : "aarch64";
  return `@oven/bun-${os}-${arch}`;
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

/** The version `<bin> --version` prints, or null if it won't run. */
async function binaryVersion(bin: string): Promise<string | null> {
  try {
    return (await run(bin, ["--version"])).trim();
  } catch {
    return null;
  }
}

/** The path of a Bun 1.x binary, fetched from npm into `.cache/bun/` on first use. */
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
  const name = platformPackage();
  const spec = `${name}@${optional[name] ?? version}`;
  await Deno.mkdir(dir, { recursive: true });
  // Staged next to the final place, so that the rename stays on one
  // filesystem and a concurrent run never sees half a binary.
  const staging = await Deno.makeTempDir({ dir, prefix: ".fetch-" });
  try {
    await run("npm", ["pack", spec, "--silent"], staging);
    const tgz = [...Deno.readDirSync(staging)]
      .find((e) => e.isFile && e.name.endsWith(".tgz"));
    if (!tgz) throw new Error(`npm pack ${spec} produced no tarball`);
    await run("tar", ["-xzf", tgz.name, "package/bin/bun"], staging);
    const fresh = join(staging, "package", "bin");
    await Deno.chmod(join(fresh, "bun"), 0o755);
    const got = await binaryVersion(join(fresh, "bun"));
    if (got !== version) {
      throw new Error(
        `${spec} gave a binary of version ${got}, not ${version}`,
      );
    }
    await Deno.remove(join(dir, "bin"), { recursive: true }).catch(() => {});
    await Deno.rename(fresh, join(dir, "bin"));
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
  return bin;
}

if (import.meta.main) {
  console.log(await bunBinary());
}
