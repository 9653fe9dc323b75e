/**
 * `ref()` / `unref()`: what keeps a process alive, compared with native Deno.
 * Each case is a small program run in a child process three ways: on native
 * Deno with `Deno.listen`, and on this package under the runtime running the
 * test. It either exits by itself ("exited") or is still running after a
 * grace period ("alive").
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, test } from "node:test";
import { modUrl, onDeno } from "./_child.ts";
import { DENO_BIN } from "./_oracle_client.ts";

const dir = mkdtempSync(join(tmpdir(), "reuseport-lifetime-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** How long a program may take to exit once its body has run. */
const GRACE_MS = 1500;
/** How long starting a runtime and loading the package may take (a busy CI machine). */
const START_MS = 60_000;
/** The line a program prints when its body has run: the grace period starts then. */
const RAN = "ran";

/**
 * Runs `program` and reports whether it exited within the grace period
 * after its body ran. Counting from the body's end, not from the spawn,
 * keeps a slow start on a loaded machine from reading as "alive".
 */
function fate(command: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "ignore"] });
    const settle = (fate: string) => {
      clearTimeout(timer);
      resolve(fate);
    };
    let timer = setTimeout(() => {
      child.kill("SIGKILL");
      settle("never ran its body");
    }, START_MS);
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      if (out.includes(RAN)) return;
      out += chunk;
      if (!out.includes(RAN)) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        child.kill("SIGKILL");
        settle("alive");
      }, GRACE_MS);
    });
    child.on("exit", (code) => {
      if (!out.includes(RAN)) {
        return settle(`exited with ${code} before its body ran`);
      }
      settle(code === 0 ? "exited" : `exited with ${code}`);
    });
  });
}

let counter = 0;

/** The program's fate on native Deno and on this package. */
async function both(body: string): Promise<{ deno: string; ours: string }> {
  const n = counter++;
  const native = join(dir, `native_${n}.mjs`);
  const ours = join(dir, `ours_${n}.mjs`);
  const ran = `\nconsole.log(${JSON.stringify(RAN)});\n`;
  writeFileSync(native, `const { listen, connect } = Deno;\n${body}${ran}`);
  writeFileSync(
    ours,
    `import { listen, connect } from "${modUrl}";\n${body}${ran}`,
  );
  const oursArgs = onDeno ? ["run", "-A", ours] : [ours];
  const [deno, mine] = await Promise.all([
    fate(DENO_BIN, ["run", "-A", native]),
    fate(process.execPath, oursArgs),
  ]);
  return { deno, ours: mine };
}

const cases: Record<string, string> = {
  "an idle listener does not hold the process":
    `listen({ hostname: "127.0.0.1", port: 0 });`,
  "a pending accept holds the process":
    `listen({ hostname: "127.0.0.1", port: 0 }).accept();`,
  "an unref'd listener's pending accept does not": `
    const l = listen({ hostname: "127.0.0.1", port: 0 });
    l.unref();
    l.accept().catch(() => {});`,
  "ref() after unref() holds it again": `
    const l = listen({ hostname: "127.0.0.1", port: 0 });
    l.unref();
    l.accept();
    l.ref();`,
  "a pending read holds the process": `
    const l = listen({ hostname: "127.0.0.1", port: 0 });
    const c = await connect({ port: l.addr.port });
    c.read(new Uint8Array(8));`,
  "an unref'd conn's pending read does not": `
    const l = listen({ hostname: "127.0.0.1", port: 0 });
    const c = await connect({ port: l.addr.port });
    c.unref();
    c.read(new Uint8Array(8)).catch(() => {});`,
  "a pending read on an accepted conn holds the process": `
    const l = listen({ hostname: "127.0.0.1", port: 0 });
    const accepted = l.accept();
    const c = await connect({ port: l.addr.port });
    (await accepted).read(new Uint8Array(8));`,
  "an unref'd accepted conn's pending read does not": `
    const l = listen({ hostname: "127.0.0.1", port: 0 });
    const accepted = l.accept();
    const c = await connect({ port: l.addr.port });
    const s = await accepted;
    s.unref();
    s.read(new Uint8Array(8)).catch(() => {});`,
  "a read that got its data releases the process": `
    const l = listen({ hostname: "127.0.0.1", port: 0 });
    const accepted = l.accept();
    const c = await connect({ port: l.addr.port });
    const s = await accepted;
    const read = s.read(new Uint8Array(8));
    await c.write(new Uint8Array(1));
    await read;`,
  "an idle open conn does not hold the process": `
    const l = listen({ hostname: "127.0.0.1", port: 0 });
    const accepted = l.accept();
    const c = await connect({ port: l.addr.port });
    await accepted;`,
};

for (const [name, body] of Object.entries(cases)) {
  test(
    `lifetime like Deno: ${name}`,
    { timeout: START_MS + 20_000 },
    async () => {
      const { deno, ours } = await both(body);
      assert.equal(ours, deno);
    },
  );
}
