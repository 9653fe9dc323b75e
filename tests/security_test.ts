/**
 * Who can join a shared address: with the kernel strategy, only the same
 * user (Linux refuses `SO_REUSEPORT` across users); with the parallel
 * runner's processes, only who can reach its control socket (this user).
 * The cross-user cases run as root, with a child Node as `nobody`.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import process from "node:process";
import { after, test, type TestContext } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { listen, setStrategy } from "../mod.ts";
import { nodeRuntime } from "../platform/node/mod.ts";
import { startProcessHub } from "../sharing/processes.ts";
import { onDeno, strategyHere } from "../tools/balancing.ts";

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;
const modUrl = new URL("../mod.js", import.meta.url).href;

/** This Node and this package's build, where the other user can run them. */
interface Reachable {
  node: string;
  modUrl: string;
}

/**
 * Runs an ES module `source` on `node` (this one by default), as `uid` when
 * given, with `REUSEPORT_STRATEGY=strategy`; resolves stdout.
 */
function nodeAs(
  source: string,
  uid?: number,
  node: string = process.execPath,
  strategy: "kernel" | "auto" = "kernel",
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      node,
      ["--input-type=module", "-e", source],
      {
        timeout: 10_000,
        ...(uid === undefined ? {} : { uid, gid: uid }),
        env: { ...process.env, REUSEPORT_STRATEGY: strategy },
        // Somewhere `nobody` may stand.
        cwd: "/",
      },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

/** Whether `nobody` can start `node` and read the module at `url`. */
async function nobodyReaches(node: string, url: string): Promise<boolean> {
  const probe = `import(${JSON.stringify(url)}).then(() => console.log("ok"))`;
  return (await nodeAs(probe, NOBODY, node).catch(() => "")).trim() === "ok";
}

/** Makes a tree readable (and its folders and programs runnable) by all. */
function openUp(path: string): void {
  const stat = statSync(path);
  chmodSync(path, stat.isDirectory() || stat.mode & 0o100 ? 0o755 : 0o644);
  if (stat.isDirectory()) {
    for (const name of readdirSync(path)) openUp(join(path, name));
  }
}

let copy: string | undefined;
after(() => {
  if (copy) rmSync(copy, { recursive: true, force: true });
});

/**
 * This Node and the build as `nobody` can reach them: in place when it can
 * (a clone under a world-readable path), else copies in a temp folder open
 * to all, since a clone in a private folder (`mktemp -d`, mode 0700) hides
 * both, the cached Node of `.cache/` included. A string says why neither
 * works.
 */
async function reachable(): Promise<Reachable | string> {
  if (await nobodyReaches(process.execPath, modUrl)) {
    return { node: process.execPath, modUrl };
  }
  copy ??= mkdtempSync(join(tmpdir(), "reuseport-security-"));
  const node = join(copy, basename(process.execPath));
  copyFileSync(process.execPath, node);
  const build = dirname(fileURLToPath(modUrl));
  cpSync(build, join(copy, "esm"), {
    recursive: true,
    filter: (src) => src !== join(build, "tests"),
  });
  openUp(copy);
  const url = pathToFileURL(join(copy, "esm", "mod.js")).href;
  if (await nobodyReaches(node, url)) return { node, modUrl: url };
  return `user nobody cannot run Node from ${copy} (nor from ${process.execPath})`;
}

/** Why this case cannot run here, or undefined. */
function crossUserSkip(): string | undefined {
  if (process.platform !== "linux") {
    return "SO_REUSEPORT's same-user rule is Linux's";
  }
  if (!isRoot) return "only root can start a process as another user";
  return undefined;
}

// Not on Deno: the other user's listener runs on Node, from the npm build,
// which does not exist yet when the Deno suite runs. The same user's join on
// Deno: tests/strategy_test.ts.
if (!onDeno) {
  // Where the kernel cannot balance (Node 20), reusePort shares one socket
  // within the process (emulated), so no other process joins, of any user.
  const kernelHere = strategyHere("kernel").ok;

  test(
    kernelHere
      ? "kernel: a second user cannot join a reusePort address; the same user can"
      : "emulated (no kernel here): neither a second user nor this user's other process joins a reusePort address",
    { timeout: 30_000 },
    async (t: TestContext) => {
      const skip = crossUserSkip();
      if (skip) return t.skip(skip);
      const other = await reachable();
      if (typeof other === "string") return t.skip(other);
      if (kernelHere) setStrategy("kernel");
      const held = listen({ hostname: "127.0.0.1", port: 0, reusePort: true });
      setStrategy(undefined);
      const join = `
      import { listen } from ${JSON.stringify(other.modUrl)};
      try {
        listen({ hostname: "127.0.0.1", port: ${held.addr.port}, reusePort: true }).close();
        console.log("joined");
      } catch (err) {
        console.log(err.name);
      }`;
      const strategy = kernelHere ? "kernel" : "auto";
      try {
        assert.equal(
          (await nodeAs(join, NOBODY, other.node, strategy)).trim(),
          "AddrInUse",
        );
        assert.equal(
          (await nodeAs(join, undefined, undefined, strategy)).trim(),
          kernelHere ? "joined" : "AddrInUse",
        );
      } finally {
        held.close();
      }
    },
  );
}

// Not on Deno: the processes runner and its control socket are Node's (Deno's
// runner uses the kernel strategy, with no hub).
if (!onDeno) {
  test(
    "processes: the runner's control socket is reachable by this user only",
    { timeout: 30_000 },
    async (t: TestContext) => {
      if (process.platform === "win32") {
        return t.skip("a named pipe, not a file in the temp dir");
      }
      const hub = await startProcessHub(nodeRuntime.handles!);
      const path = hub.primary;
      try {
        const dir = statSync(dirname(path));
        assert.equal(dir.mode & 0o777, 0o700, `mode of ${dirname(path)}`);
        assert.equal(dir.uid, process.getuid!());
        assert.ok(statSync(path).isSocket());
        const other = isRoot ? await reachable() : "not root";
        if (typeof other === "string") {
          t.diagnostic(`the other user's connect was not tried: ${other}`);
        } else {
          const probe = `
          import { connect } from "node:net";
          connect(${JSON.stringify(path)})
            .on("connect", () => { console.log("connected"); process.exit(0); })
            .on("error", (err) => console.log(err.code));`;
          assert.equal(
            (await nodeAs(probe, NOBODY, other.node)).trim(),
            "EACCES",
          );
          assert.equal((await nodeAs(probe)).trim(), "connected");
        }
      } finally {
        hub.close();
      }
      assert.throws(() => statSync(dirname(path)), { code: "ENOENT" });
    },
  );
}
