/**
 * The clients of `tests/real/` against real servers (`npm run test:real`,
 * and a step of `npm test`): starts PostgreSQL, Redis and NATS once
 * (`scripts/real_servers.ts`), runs `tests/real/clients_check.ts` on native
 * Deno, on Deno with this package's `Deno.connect`
 * (`installPolyfill({ override: true })`), on Node and on Bun (the npm
 * build's `npm/esm/tests/real/clients_check.js`), stops the servers, and
 * prints one table: a row per check, a column per runtime. Closing line:
 * `real: N passed, N failed`.
 *
 * Missing servers: on a machine without them (and not root with apt), one
 * line says which and how to install them, and the run passes with what it
 * could check; in CI (`CI` set, or root with apt-get) missing servers fail.
 *
 * Environment:
 * - `REAL_RUNTIMES` which columns (default `deno,deno+polyfill,20,22,24,26,bun`)
 *
 * Usage: `deno run -A scripts/real.ts` (after `scripts/build_npm.ts` for Node and Bun)
 *
 * @module
 */

import { existsSync } from "node:fs";
import { join } from "node:path";
import { missingServers, RealServers } from "./real_servers.ts";
import { NODE_LINES, ROOT, runtimeBinary } from "./runtimes.ts";

const SOURCE = join("tests", "real", "clients_check.ts");
const BUILT = join("npm", "esm", "tests", "real", "clients_check.js");
const DENO = Deno.execPath();

/** A column of the matrix: how to run the check file there. */
interface Column {
  name: string;
  command: () => Promise<
    { cmd: string; args: string[]; env: Record<string, string> }
  >;
}

/** One check's outcome in one column. */
type Outcome = "pass" | "fail" | "missing" | "not run";

function columns(): Column[] {
  const wanted = (Deno.env.get("REAL_RUNTIMES") ??
    ["deno", "deno+polyfill", ...NODE_LINES, "bun"].join(","))
    .split(",").map((s) => s.trim()).filter(Boolean);
  return wanted.map((w): Column => {
    if (w === "deno" || w === "deno+polyfill") {
      return {
        name: w,
        command: () =>
          Promise.resolve({
            cmd: DENO,
            args: ["test", "-A", SOURCE],
            env: { REAL_POLYFILL: w === "deno" ? "0" : "1" },
          }),
      };
    }
    const runtime = w === "bun" ? "bun" : Number(w);
    if (runtime !== "bun" && !Number.isInteger(runtime)) {
      throw new RangeError(
        `REAL_RUNTIMES: '${w}' is not deno, deno+polyfill, bun or a Node major line`,
      );
    }
    return {
      name: runtime === "bun" ? "bun" : `node ${runtime}`,
      command: async () => {
        if (!existsSync(join(ROOT, BUILT))) {
          throw new Error(
            `${BUILT} is missing: run scripts/build_npm.ts first`,
          );
        }
        const bin = await runtimeBinary(runtime);
        return runtime === "bun"
          ? {
            cmd: bin,
            args: ["test", "--timeout=120000", `./${BUILT}`],
            env: {},
          }
          : {
            cmd: bin,
            args: ["--test", "--test-reporter=spec", BUILT],
            env: {},
          };
      },
    };
  });
}

/** Runs the check file in one column; resolves each check's outcome. */
async function runColumn(
  column: Column,
  servers: RealServers,
  dir: string,
): Promise<Map<string, { outcome: Outcome; error?: string }>> {
  const tag = column.name.replace(/\W+/g, "-");
  const configFile = join(dir, `config-${tag}.json`);
  const resultsFile = join(dir, `results-${tag}.jsonl`);
  const config = await servers.withDoomedNats(tag);
  await Deno.writeTextFile(configFile, JSON.stringify(config));
  await Deno.writeTextFile(resultsFile, "");
  const outcomes = new Map<string, { outcome: Outcome; error?: string }>();
  let how;
  try {
    how = await column.command();
  } catch (e) {
    console.log(`${column.name}: ${(e as Error).message}`);
    return outcomes;
  }
  console.log(
    `\n-- ${column.name}: ${how.cmd === DENO ? "deno" : how.cmd} ${
      how.args.join(" ")
    }`,
  );
  const child = new Deno.Command(how.cmd, {
    args: how.args,
    cwd: ROOT,
    env: {
      ...how.env,
      REAL_CONFIG: configFile,
      REAL_RESULTS: resultsFile,
      NO_COLOR: "1",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const started = performance.now();
  const timer = setTimeout(() => child.kill("SIGKILL"), 300_000);
  const out = await child.output();
  clearTimeout(timer);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  for (const line of (await Deno.readTextFile(resultsFile)).split("\n")) {
    if (!line) continue;
    const r = JSON.parse(line) as {
      check: string;
      status: Outcome;
      error?: string;
    };
    outcomes.set(r.check, { outcome: r.status, error: r.error });
  }
  // The runner's own report only when something unexpected went wrong (the
  // table says the rest): no check at all.
  if (!out.success && !outcomes.size) {
    const dec = new TextDecoder();
    console.log((dec.decode(out.stdout) + dec.decode(out.stderr)).trimEnd());
  }
  console.log(`${column.name}: exit ${out.code} in ${seconds}s`);
  return outcomes;
}

async function main(): Promise<number> {
  const missing = missingServers();
  const strict = Deno.env.get("CI") !== undefined ||
    (Deno.uid() === 0 && existsSync("/usr/bin/apt-get"));
  if (missing.length) {
    console.log(
      `real: missing ${missing.map((m) => m.bin).join(", ")}; install with: ` +
        `sudo apt-get install ${missing.map((m) => m.pkg).join(" ")}`,
    );
    if (strict) {
      console.log(
        "real: 0 passed, 1 failed (servers missing in CI)",
      );
      return 1;
    }
  }

  const cols = columns();
  const servers = await RealServers.start();
  const dir = await Deno.makeTempDir({ prefix: "reuseport-real-run-" });
  const results: Map<string, { outcome: Outcome; error?: string }>[] = [];
  // Ctrl-C or a kill must not leave the servers running: they are not our
  // process group's to die with us.
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const onSignal = async () => {
    console.log("real: stopping the servers");
    await servers.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    Deno.exit(130);
  };
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  try {
    for (const f of servers.failed) {
      console.log(`real: ${f.server} did not start: ${f.error}`);
    }
    for (const column of cols) {
      results.push(await runColumn(column, servers, dir));
    }
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
    await servers.stop();
    await Deno.remove(dir, { recursive: true });
  }

  // By server, in the order the file has them (a missing server's checks
  // are recorded before any other's run).
  const order = ["redis", "postgres", "nats", "mariadb"];
  const server = (check: string) => order.indexOf(check.split(" ")[0]);
  const checks = [...new Set(results.flatMap((r) => [...r.keys()]))]
    .sort((a, b) => server(a) - server(b));
  let passed = 0;
  let failed = 0;
  const rows = checks.map((check) => [
    check,
    ...cols.map((_, i) => {
      const r = results[i].get(check);
      const outcome = r?.outcome ?? "not run";
      if (outcome === "pass") {
        passed++;
        return "pass";
      }
      if (outcome === "missing") return "missing";
      failed++;
      return "FAIL";
    }),
  ]);
  // A column that recorded nothing (it did not start, or crashed before a check).
  const silent = cols.filter((_, i) => results[i].size === 0).map((c) =>
    c.name
  );
  failed += silent.length;
  if (servers.failed.length) failed += servers.failed.length;

  const head = ["check", ...cols.map((c) => c.name)];
  const widths = head.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => r[i].length))
  );
  const line = (r: string[]) =>
    r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  console.log("\n== real servers: check × runtime");
  console.log(
    [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)]
      .join("\n"),
  );
  for (const [i, col] of cols.entries()) {
    for (const [check, r] of results[i]) {
      if (r.outcome === "fail") {
        console.log(`  ${col.name} / ${check}: ${r.error}`);
      }
    }
  }
  if (silent.length) console.log(`real: no check ran on ${silent.join(", ")}`);
  console.log(
    `\nreal: ${passed} passed, ${failed} failed`,
  );
  return failed ? 1 : 0;
}

if (import.meta.main) {
  Deno.exit(await main());
}
