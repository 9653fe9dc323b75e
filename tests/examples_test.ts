/**
 * The README's examples: each code block marked `<!-- examples/<file> -->` is
 * that file, verbatim, and the Deno example serves an echo to a bounded
 * client. (The Node example needs the package installed by name: the pack
 * test runs it, on every Node line.)
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import process from "node:process";
import { test } from "node:test";
import { connect } from "../mod.ts";
import { DENO_BIN } from "./_oracle_client.ts";

// Read from the repo root, where both `deno test` and `node --test` run.
const README = "README.md";
const EXAMPLES = ["examples/echo_deno.ts", "examples/echo_node.mjs"];

/** `{ file: code }` for every README code block marked with its file. */
function readmeBlocks(): Record<string, string> {
  const blocks: Record<string, string> = {};
  const marked = /<!-- (examples\/\S+) -->\n+```\w*\n([\s\S]*?)```\n/g;
  for (const [, file, code] of readFileSync(README, "utf8").matchAll(marked)) {
    blocks[file] = code;
  }
  return blocks;
}

test("the README shows each example file verbatim", { timeout: 10_000 }, () => {
  const blocks = readmeBlocks();
  assert.deepEqual(Object.keys(blocks).sort(), [...EXAMPLES].sort());
  for (const file of EXAMPLES) {
    assert.equal(blocks[file], readFileSync(file, "utf8"), `${file} differs`);
  }
});

test("examples/echo_deno.ts echoes on Deno", { timeout: 30_000 }, async () => {
  const server = spawn(
    DENO_BIN,
    ["run", "--allow-net", "--allow-env", "examples/echo_deno.ts"],
    { env: { ...process.env, PORT: "0" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const exited = new Promise((resolve) => server.on("exit", resolve));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      let err = "";
      server.stdout!.on("data", (chunk) => {
        out += chunk;
        const m = /echo server on 127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      server.stderr!.on("data", (chunk) => err += chunk);
      server.on("exit", (code) => reject(new Error(`exited ${code}: ${err}`)));
    });
    for (let i = 0; i < 10; i++) {
      const conn = await connect({ port });
      const message = new TextEncoder().encode(`hello ${i}`);
      await conn.write(message);
      await conn.closeWrite();
      const reply: number[] = [];
      const buf = new Uint8Array(64);
      for (let n; (n = await conn.read(buf)) !== null;) {
        reply.push(...buf.subarray(0, n));
      }
      conn.close();
      assert.equal(
        new TextDecoder().decode(new Uint8Array(reply)),
        `hello ${i}`,
      );
    }
  } finally {
    server.kill();
    await exited;
  }
});
