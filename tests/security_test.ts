/**
 * Who can join a shared address: with the kernel strategy, only the same
 * user (Linux refuses `SO_REUSEPORT` across users); with the parallel
 * runner's processes, only who can reach its control socket (this user).
 * The cross-user cases run as root, with a child Node as `nobody`.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { statSync } from "node:fs";
import { dirname } from "node:path";
import process from "node:process";
import { test, type TestContext } from "node:test";
import { listen, setStrategy } from "../mod.ts";
import { nodeRuntime } from "../platform/node/mod.ts";
import { startProcessHub } from "../sharing/processes.ts";
import { onDeno, strategyHere } from "./_balancing.ts";

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;
const modUrl = new URL("../mod.js", import.meta.url).href;

/** Runs an ES module `source` on this Node, as `uid` when given; resolves stdout. */
function nodeAs(source: string, uid?: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--input-type=module", "-e", source],
      {
        timeout: 10_000,
        ...(uid === undefined ? {} : { uid, gid: uid }),
        env: { ...process.env, REUSEPORT_STRATEGY: "kernel" },
        // Somewhere `nobody` may stand.
        cwd: "/",
      },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

/** Why this case cannot run here, or undefined. */
function crossUserSkip(): string | undefined {
  if (onDeno) return "the other user's listener runs on Node (the npm build)";
  if (process.platform !== "linux") {
    return "SO_REUSEPORT's same-user rule is Linux's";
  }
  if (!isRoot) return "only root can start a process as another user";
  return undefined;
}

test(
  "kernel: a second user cannot join a reusePort address; the same user can",
  { timeout: 30_000 },
  async (t: TestContext) => {
    const here = strategyHere("kernel");
    const skip = here.ok ? crossUserSkip() : here.reason;
    if (skip) return t.skip(skip);
    setStrategy("kernel");
    const held = listen({ hostname: "127.0.0.1", port: 0, reusePort: true });
    setStrategy(undefined);
    const join = `
      import { listen } from ${JSON.stringify(modUrl)};
      try {
        listen({ hostname: "127.0.0.1", port: ${held.addr.port}, reusePort: true }).close();
        console.log("joined");
      } catch (err) {
        console.log(err.name);
      }`;
    try {
      assert.equal((await nodeAs(join, NOBODY)).trim(), "AddrInUse");
      assert.equal((await nodeAs(join)).trim(), "joined");
    } finally {
      held.close();
    }
  },
);

test(
  "processes: the runner's control socket is reachable by this user only",
  { timeout: 30_000 },
  async (t: TestContext) => {
    if (onDeno) return t.skip("the processes runner is a Node program");
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
      if (isRoot) {
        const probe = `
          import { connect } from "node:net";
          connect(${JSON.stringify(path)})
            .on("connect", () => { console.log("connected"); process.exit(0); })
            .on("error", (err) => console.log(err.code));`;
        assert.equal((await nodeAs(probe, NOBODY)).trim(), "EACCES");
        assert.equal((await nodeAs(probe)).trim(), "connected");
      } else {
        t.diagnostic("not root: the other user's connect was not tried");
      }
    } finally {
      hub.close();
    }
    assert.throws(() => statSync(dirname(path)), { code: "ENOENT" });
  },
);
