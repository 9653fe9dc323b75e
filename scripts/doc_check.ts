/**
 * Checks the house rule that `deno doc --lint` does not: every symbol the
 * package exports (the modules in deno.json's `exports`, and the members of
 * exported namespaces such as `errors`) has a JSDoc summary and an
 * `@example`. `deno test --doc` runs those examples; this makes sure they
 * exist. Prints each symbol that lacks one and exits 1 if any does.
 *
 * Usage: `deno run -A scripts/doc_check.ts [module ...]` (default: the
 * modules of deno.json's `exports`)
 *
 * @module
 */

import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./runtimes.ts";

interface JsDoc {
  doc?: string;
  tags?: { kind: string }[];
}

/** A symbol of `deno doc --json`, or one of its declarations. */
interface DocNode {
  name: string;
  kind?: string;
  jsDoc?: JsDoc;
  declarations?: DocNode[];
  def?: { elements?: DocNode[] };
  location?: { filename: string; line: number };
}

/** The files deno.json exports, as paths relative to the repo root. */
export function exportedModules(): string[] {
  const config = JSON.parse(
    Deno.readTextFileSync(join(ROOT, "deno.json")),
  ) as { exports?: string | Record<string, string> };
  const exports = typeof config.exports === "string"
    ? [config.exports]
    : Object.values(config.exports ?? {});
  return exports.filter((f) => existsSync(join(ROOT, f)));
}

/** `name: what is missing` for each symbol under `nodes` without a summary or an example. */
function missing(nodes: DocNode[], prefix = ""): string[] {
  const problems: string[] = [];
  for (const node of nodes) {
    for (const decl of node.declarations ?? []) {
      const name = prefix + node.name;
      const where = decl.location
        ? ` (${
          decl.location.filename.replace(/^file:\/\//, "")
        }:${decl.location.line})`
        : "";
      const lacks = [
        ...(decl.jsDoc?.doc?.trim() ? [] : ["a summary"]),
        ...(decl.jsDoc?.tags?.some((t) => t.kind === "example")
          ? []
          : ["an @example"]),
      ];
      if (lacks.length) {
        problems.push(`${name}: lacks ${lacks.join(" and ")}${where}`);
      }
      // `export * as errors`: its members are exports too.
      if (decl.kind === "namespace") {
        problems.push(...missing(decl.def?.elements ?? [], `${name}.`));
      }
    }
  }
  return problems;
}

/** Runs `deno doc --json` on `modules`; returns one line per problem. */
async function checkExamples(modules: string[]): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", ...modules],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    return [`deno doc --json failed:\n${new TextDecoder().decode(out.stderr)}`];
  }
  const json = JSON.parse(new TextDecoder().decode(out.stdout));
  // `{ version, nodes: { [module]: { symbols } } }`
  const nodes = Object.values(
    json.nodes as Record<string, { symbols: DocNode[] }>,
  ).flatMap((m) => m.symbols);
  return [...new Set(missing(nodes))];
}

if (import.meta.main) {
  const modules = Deno.args.length ? Deno.args : exportedModules();
  const problems = await checkExamples(modules);
  for (const p of problems) console.error(p);
  console.log(
    `doc_check: ${modules.join(", ")}: ` +
      (problems.length
        ? `${problems.length} exported symbol(s) without a summary or @example`
        : "every exported symbol has a summary and an @example"),
  );
  Deno.exit(problems.length ? 1 : 0);
}
