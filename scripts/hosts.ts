/**
 * `npm run hosts`: beyond one machine. Two stand-in hosts (network namespaces
 * with their own addresses in 10.213.x.0/24, on veths made for the run), each
 * running `reuseport serve --parallel=2 --processes examples/http_app.mjs`;
 * HAProxy in front of them on 127.0.0.1 (mode tcp, balance leastconn, health
 * checks); load from `tools/load.mjs` in a process of its own. Prints connections
 * per host and worker, then what clients saw (served, refused, reset, timed
 * out) while host A's runner reloads (SIGHUP) and while host B's is killed
 * and restarted, and how long HAProxy took to take B out and put it back.
 * Everything is torn down on exit, on Ctrl-C and on failure.
 *
 * Needs Linux, root, `ip netns` (iproute2), `haproxy` and the npm build;
 * says which is missing otherwise (exit code 2).
 *
 * Usage: `deno run -A scripts/hosts.ts [--seconds=4] [--concurrency=16]
 * [--observe=1] [--no-shutdown-sessions] [--no-restart-a] [--node=node]
 * [--json]`
 *
 * `--observe=0` leaves failed connections of real traffic out of HAProxy's
 * decision (`observe layer4`): then its health checks alone take B out.
 *
 * @module
 */
import { CHECKS } from "./_haproxy.ts";
import {
  abortHosts,
  DEFAULTS,
  hostsMissing,
  type HostsOptions,
  type HostsResult,
  runHosts,
} from "./_hosts_run.ts";

/** Options from the command line; throws a `TypeError` on a bad one. */
function parse(
  args: string[],
): { options: Partial<HostsOptions>; json: boolean } {
  const options: Partial<HostsOptions> = {};
  let json = false;
  for (const arg of args) {
    const [, name, value] = /^--([a-z-]+)(?:=(.*))?$/.exec(arg) ?? [];
    if (name === "json") json = true;
    else if (name === "no-restart-a") options.restartA = false;
    else if (name === "node" && value) options.node = value;
    else if (name === "observe" && /^\d+$/.test(value ?? "")) {
      options.checks = {
        ...options.checks ?? CHECKS,
        observeErrors: Number(value),
      };
    } else if (name === "no-shutdown-sessions") {
      options.checks = { ...options.checks ?? CHECKS, shutdownSessions: false };
    } else if ((name === "seconds" || name === "concurrency") && value) {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) {
        throw new TypeError(`--${name} wants a positive integer: ${value}`);
      }
      options[name] = n;
    } else throw new TypeError(`unknown argument ${arg}`);
  }
  return { options, json };
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) =>
    Math.max(...rows.map((r) => r[i].length))
  );
  return rows.map((r) =>
    r.map((cell, i) =>
      i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])
    )
      .join("  ").trimEnd()
  ).join("\n");
}

const percent = (part: number, whole: number): string =>
  whole ? `${Math.round((part / whole) * 100)} %` : "-";

/** The report: the table per host and worker, the phases, detection times. */
export function report(result: HostsResult): string {
  const out: string[] = [];
  const steadyTotal = result.table.reduce((n, r) => n + r.steady, 0);
  out.push(
    `HAProxy 127.0.0.1:${result.port} (mode tcp, balance leastconn) in front of ` +
      result.hosts.map((h) => `${h.label} ${h.address}:8080`).join(", ") +
      "\n",
  );
  out.push("connections served, per host and worker:");
  out.push(table([
    [
      "host",
      "address",
      "worker",
      "pids",
      "steady phase",
      "share",
      "all phases",
    ],
    ...result.table.map((r) => [
      r.host,
      r.address,
      r.worker,
      r.pids.join(","),
      String(r.steady),
      percent(r.steady, steadyTotal),
      String(r.total),
    ]),
  ]));
  out.push("\nwhat clients saw (connections of 5 requests each):");
  out.push(table([
    [
      "phase",
      "served",
      "refused",
      "reset",
      "timed out",
      "other",
      "served by host",
      "failed outside window",
    ],
    ...result.phases.map((p) => [
      p.name,
      String(p.outcome.served),
      String(p.outcome.refused),
      String(p.outcome.reset),
      String(p.outcome.timedOut),
      String(p.outcome.other),
      Object.entries(p.byHost).sort().map(([h, n]) => `${h} ${n}`).join(", "),
      p.window
        ? `${p.outsideWindow} (window ${p.window[0]}–${p.window[1]} ms)`
        : "-",
    ]),
  ]));
  for (const p of result.phases) {
    out.push(`\n${p.name}:`);
    for (const m of p.marks) out.push(`  +${m.at} ms  ${m.what}`);
    for (const [error, n] of Object.entries(p.outcome.errors)) {
      const these = p.failures.filter((f) => f.error === error);
      const span = (values: number[]): string =>
        `${Math.min(...values)}–${Math.max(...values)} ms`;
      out.push(
        `  failed: ${error} × ${n} (opened ${
          span(these.map((f) => f.opened))
        }, ended ${span(these.map((f) => f.closed))})`,
      );
    }
  }
  const d = result.detection;
  const c = result.checks;
  out.push(
    `\nhost B killed: marked DOWN after ${d.downMs ?? "?"} ms; ` +
      `marked UP ${d.upAfterListeningMs ?? "?"} ms after it listened again ` +
      `(${d.upAfterRestartMs ?? "?"} ms after its runner was started)`,
  );
  out.push(
    `checks: inter ${c.inter} ms, fastinter ${c.fastinter} ms, downinter ${c.downinter} ms, ` +
      `fall ${c.fall}, rise ${c.rise}, timeout connect/check ${c.connectTimeout} ms, ` +
      (c.observeErrors
        ? `observe layer4 error-limit ${c.observeErrors} on-error mark-down, `
        : "") +
      (c.shutdownSessions ? "on-marked-down shutdown-sessions, " : "") +
      `retries ${c.retries}, option redispatch 1`,
  );
  out.push(
    "haproxy stats: " +
      result.stats.map((s) =>
        `${s.server}: ${s.sessions} sessions, ${s.connectErrors} connect errors, ` +
        `${s.retries} retries, ${s.redispatches} redispatched, ${s.downs} times down`
      ).join("; "),
  );
  out.push(
    result.leftover.length
      ? `teardown left: ${result.leftover.join(", ")}`
      : "teardown: namespaces, veths, processes and temp files removed",
  );
  return out.join("\n");
}

if (import.meta.main) {
  let parsed;
  try {
    parsed = parse(Deno.args);
  } catch (err) {
    console.error(`hosts: ${(err as Error).message}`);
    Deno.exit(2);
  }
  const missing = await hostsMissing();
  if (missing.length) {
    console.error(`hosts: cannot run here:\n  - ${missing.join("\n  - ")}`);
    Deno.exit(2);
  }
  const abort = async (why: string, code: number): Promise<never> => {
    console.error(`hosts: ${why}: tearing down`);
    const left = await abortHosts();
    if (left.length) console.error(`hosts: left behind: ${left.join(", ")}`);
    Deno.exit(code);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => abort(signal, 130));
  }
  // A bug of ours must not leave namespaces and processes behind either.
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    abort(`unexpected error: ${event.reason?.stack ?? event.reason}`, 1);
  });
  const { options, json } = parsed;
  try {
    const result = await runHosts({
      ...options,
      log: json ? DEFAULTS.log : (line) => console.error(line),
    });
    console.log(json ? JSON.stringify(result, null, 2) : "\n" + report(result));
    Deno.exit(result.leftover.length ? 1 : 0);
  } catch (err) {
    console.error(`hosts: ${(err as Error).stack ?? err}`);
    Deno.exit(1);
  }
}
