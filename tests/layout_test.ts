/**
 * The file tree is the architecture: which folder of the library may import
 * which, and no import cycle between files. Read from the sources, so it
 * holds for the clone this runs in, on any runtime.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative, sep } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

/** The repository root: the nearest folder above this file with a deno.json. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "deno.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("no deno.json above the tests");
    dir = up;
  }
  return dir;
}

const ROOT = repoRoot();
const LIBRARY = ["net", "core", "ops", "platform", "runner", "sharing"];

/**
 * What each part of the library may import. The runner sits above the ops
 * (it registers their listen hook), as Node's cluster above its `net`.
 */
const ALLOWED: Record<string, string[]> = {
  api: ["api", "runner", "ops", "core"],
  runner: ["runner", "ops", "sharing", "platform", "core"],
  ops: ["ops", "sharing", "platform", "core"],
  sharing: ["sharing", "platform", "core"],
  platform: ["platform", "core"],
  core: ["core"],
};

/** `api` for the root's files and `net/` (the API by transport), else the top folder. */
function part(file: string): string {
  const top = file.split("/")[0];
  return file.includes("/") && top !== "net" ? top : "api";
}

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDirectory()) {
      return LIBRARY.includes(path.split("/")[0]) ? sources(path) : [];
    }
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [path] : [];
  });
}

/** Library file → the library files it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources("")) {
    const text = readFileSync(join(ROOT, file), "utf8");
    const deps = [
      ...text.matchAll(/^(?:import|export)[^;]*?from\s+"(\.[^"]+)"/gms),
    ]
      .map((m) =>
        relative(ROOT, normalize(join(ROOT, dirname(file), m[1]))).split(sep)
          .join("/")
      );
    graph.set(file, deps);
  }
  return graph;
}

test("layout: every import goes down the layers (api → runner → ops → sharing → platform → core)", () => {
  const graph = importGraph();
  assert.ok(
    graph.size > 20,
    `found only ${graph.size} library files under ${ROOT}`,
  );
  const wrong: string[] = [];
  for (const [file, deps] of graph) {
    for (const dep of deps) {
      const [from, to] = [part(file), part(dep)];
      if (!(ALLOWED[from] ?? []).includes(to)) {
        wrong.push(`${file} → ${dep}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});

test("layout: the ops reach sharing/ through one file only", () => {
  const reaching = [...importGraph()]
    .filter(([file, deps]) =>
      file.startsWith("ops/") && deps.some((dep) => dep.startsWith("sharing/"))
    )
    .map(([file]) => file);
  assert.ok(reaching.length <= 1, `ops/ files importing sharing/: ${reaching}`);
});

/** The folders of `platform/` that several runtimes' adapters share. */
const SHARED_PLATFORM = ["libuv", "tls"];

test("layout: runtime adapters do not import each other, except the code they share (libuv's handles, node:tls)", () => {
  const wrong = [...importGraph()].flatMap(([file, deps]) =>
    deps.filter((dep) => {
      const [a, b] = [file.split("/")[1], dep.split("/")[1]];
      return file.startsWith("platform/") && dep.startsWith("platform/") &&
        file.split("/").length > 2 && dep.split("/").length > 2 && a !== b &&
        !SHARED_PLATFORM.includes(b);
    }).map((dep) => `${file} → ${dep}`)
  );
  assert.deepEqual(wrong, []);
});

/** The command line's own program (`reuseport serve`): not part of the package's import. */
const CLI_FILES = ["_cli.ts", "bin.ts"];

test("layout: the package loads Node's built-in modules at first use (platform/builtin.ts), none by a static import", () => {
  const files = sources("").filter((f) => !CLI_FILES.includes(f));
  assert.ok(files.length > 20, `found only ${files.length} library files`);
  const wrong = files.flatMap((file) =>
    [
      ...readFileSync(join(ROOT, file), "utf8").matchAll(
        /^(?:import|export)\s+(?!type\b)[\w*{},\s]*?from\s+"(node:[^"]+)"|^import\s+"(node:[^"]+)"/gm,
      ),
    ].map((m) => `${file} → ${m[1] ?? m[2]}`)
  );
  assert.deepEqual(wrong, []);
});

test("layout: no import cycle between library files", () => {
  const graph = importGraph();
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (file: string, path: string[]): void => {
    state.set(file, "open");
    for (const dep of graph.get(file) ?? []) {
      if (state.get(dep) === "open") {
        cycles.push([...path.slice(path.indexOf(dep)), dep].join(" → "));
      } else if (!state.has(dep)) visit(dep, [...path, dep]);
    }
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file, [file]);
  assert.deepEqual(cycles, []);
});

test("layout: the tools import one way: bench/ may use scripts/, scripts/ never bench/", () => {
  const wrong = readdirSync(join(ROOT, "scripts"))
    .filter((name) => name.endsWith(".ts"))
    .filter((name) =>
      /^(?:import|export)[^;]*?from\s+"\.\.\/bench\//ms.test(
        readFileSync(join(ROOT, "scripts", name), "utf8"),
      )
    );
  assert.deepEqual(wrong, []);
});
