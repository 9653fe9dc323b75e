/**
 * Node's built-in modules load where the package first uses them
 * (`platform/builtin.ts`), never at import: on native Deno a program that
 * imports the package and serves TCP on Deno's own objects loads none of
 * them. Each check runs in a child process that records what the package
 * asks `process.getBuiltinModule` for (the only way it loads one; the
 * layout test checks that no file imports one statically).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { modUrl, onDeno, runChild } from "./_child.ts";

/**
 * Runs `body` after the package's import, with every built-in module it
 * asks for recorded in `loaded` (printed as JSON, then `body`'s last line).
 */
async function recorded(
  body: string,
): Promise<{ atImport: string[]; after: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "reuseport-builtins-"));
  const file = join(dir, "program.mjs");
  writeFileSync(
    file,
    `const loaded = [];
const original = globalThis.process.getBuiltinModule;
globalThis.process.getBuiltinModule = (name) => {
  loaded.push(name);
  return original.call(globalThis.process, name);
};
const mod = await import(${JSON.stringify(modUrl)});
const atImport = [...loaded];
${body}
console.log(JSON.stringify({ atImport, after: [...new Set(loaded)] }));
`,
  );
  try {
    const result = await runChild(onDeno ? ["run", "-A", file] : [file]);
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout.trim().split("\n").at(-1)!);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One request and its echo over the package's `listen` and `connect` on port 0. */
const ECHO = `
const listener = mod.listen({ hostname: "127.0.0.1", port: 0 });
const accepted = listener.accept();
const client = await mod.connect({ hostname: "127.0.0.1", port: listener.addr.port });
const server = await accepted;
await client.write(new Uint8Array([1, 2, 3]));
const buf = new Uint8Array(8);
const n = await server.read(buf);
await server.write(buf.subarray(0, n));
const back = new Uint8Array(8);
const m = await client.read(back);
if (m !== 3 || back[2] !== 3) throw new Error("echo failed: " + m);
client.close();
server.close();
listener.close();
`;

test("importing the package loads no Node built-in module, on every runtime", async () => {
  const { atImport } = await recorded("");
  assert.deepEqual(atImport, []);
});

test("TCP listen, accept, connect, read, write and close: none loaded on Deno (its own objects), what the runtime's sockets need elsewhere", async () => {
  const { atImport, after } = await recorded(ECHO);
  assert.deepEqual(atImport, []);
  if (onDeno) assert.deepEqual(after, []);
  // Node and Bun serve on their own sockets: at least their net layer.
  else assert.ok(after.length > 0, `loaded: ${after}`);
});

test("a runtime without process.getBuiltinModule gets an error naming what the package needs, at first use", async () => {
  const builtinUrl = new URL(
    modUrl.replace(/mod\.(ts|js)$/, "platform/builtin.$1"),
  );
  const dir = mkdtempSync(join(tmpdir(), "reuseport-builtins-"));
  const file = join(dir, "program.mjs");
  writeFileSync(
    file,
    `delete globalThis.process.getBuiltinModule;
const { builtin } = await import(${JSON.stringify(builtinUrl.href)});
try {
  builtin("node:os");
  console.log("loaded");
} catch (err) {
  console.log(err.message);
}
`,
  );
  try {
    const result = await runChild(onDeno ? ["run", "-A", file] : [file]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stdout.trim(),
      "@reuseport/net needs process.getBuiltinModule (Node 20.16 or 22.3 or later) to load node:os",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
