/**
 * HAProxy in front of the stand-in hosts, for `scripts/hosts.ts`: writes its
 * configuration (mode tcp, balance leastconn, health checks), runs it in the
 * foreground, times the servers' state changes from its log as they arrive,
 * and reads its stats socket.
 *
 * @module
 */
import { join } from "node:path";
import { run } from "./runtimes.ts";

/** The settings that decide how fast a dead server is taken out and put back. */
export interface CheckSettings {
  /** Time between health checks of a server that is up. */
  inter: number;
  /** Time between checks while a server that is up is failing them. */
  fastinter: number;
  /** Time between checks of a server that is down. */
  downinter: number;
  /** Failed checks in a row that mark a server down. */
  fall: number;
  /** Passed checks in a row that mark a server up again. */
  rise: number;
  /** How long a check or a connection to a server may take to connect. */
  connectTimeout: number;
  /**
   * Also count failed connections of real traffic (`observe layer4`): this
   * many in a row mark the server down at once (0: checks alone decide).
   */
  observeErrors: number;
  /** Tries of a connection to a server after the first failed (`retries`). */
  retries: number;
  /** Close the connections to a server once it is marked down. */
  shutdownSessions: boolean;
}

/** The settings `scripts/hosts.ts` measures with. */
export const CHECKS: CheckSettings = {
  inter: 500,
  fastinter: 100,
  downinter: 200,
  fall: 2,
  rise: 2,
  connectTimeout: 500,
  observeErrors: 1,
  retries: 2,
  shutdownSessions: true,
};

/** One server behind HAProxy. */
export interface Backend {
  name: string;
  address: string;
  port: number;
}

/** The configuration: one frontend on 127.0.0.1:`port`, one backend. */
export function haproxyConfig(
  port: number,
  servers: Backend[],
  socket: string,
  checks: CheckSettings = CHECKS,
): string {
  const c = checks;
  const observe = c.observeErrors > 0
    ? ` observe layer4 error-limit ${c.observeErrors} on-error mark-down`
    : "";
  const shutdown = c.shutdownSessions
    ? " on-marked-down shutdown-sessions"
    : "";
  return `# Written by scripts/hosts.ts.
global
    log stdout format raw local0 info
    stats socket ${socket} mode 600 level admin
    maxconn 4096

defaults
    mode tcp
    log global
    timeout connect ${c.connectTimeout}ms
    timeout check ${c.connectTimeout}ms
    timeout client 10s
    timeout server 10s
    # A connection a server refused is tried again, each retry balanced anew
    # (leastconn picks a dead server not yet marked down: it has the fewest
    # connections); one that was established cannot be (mode tcp).
    retries ${c.retries}
    option redispatch 1

frontend app
    bind 127.0.0.1:${port}
    default_backend hosts

backend hosts
    balance leastconn
    default-server check inter ${c.inter}ms fastinter ${c.fastinter}ms downinter ${c.downinter}ms fall ${c.fall} rise ${c.rise}${shutdown}${observe}
${
    servers.map((s) => `    server ${s.name} ${s.address}:${s.port}`).join(
      "\n",
    )
  }
`;
}

/** A server's state change as HAProxy logged it, timed when it arrived. */
export interface StateChange {
  server: string;
  state: "UP" | "DOWN";
  at: number;
  line: string;
}

/** A server's row of HAProxy's `show stat`. */
export interface ServerStat {
  server: string;
  status: string;
  /** Connections it was given in all. */
  sessions: number;
  /** Connections to it that failed. */
  connectErrors: number;
  /** Tries again after a failed connection to it, and redispatches. */
  retries: number;
  redispatches: number;
  /** Failed checks, and how often it was marked down. */
  failedChecks: number;
  downs: number;
}

/** HAProxy running in the foreground. */
export interface Haproxy {
  /** Every server state change so far. */
  changes: StateChange[];
  /** Everything it printed so far. */
  log: string[];
  /** Resolves the first change of `server` to `state` at or after `since`. */
  waitFor(
    server: string,
    state: "UP" | "DOWN",
    since: number,
    timeoutMs: number,
  ): Promise<StateChange | undefined>;
  /** The servers' rows of `show stat`. */
  stats(): Promise<ServerStat[]>;
  pid: number;
  /** Stops it (SIGTERM, then SIGKILL); resolves once it exited. */
  stop(): Promise<void>;
}

/** Whether HAProxy is installed: undefined, or how to get it. */
export async function haproxyMissing(): Promise<string | undefined> {
  try {
    await run("haproxy", ["-v"]);
    return undefined;
  } catch {
    return "no `haproxy`: install it (`apt-get install -y haproxy`; Debian 12 has 2.6)";
  }
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Calls `line` for each line of `stream` as it arrives. */
async function lines(
  stream: ReadableStream<Uint8Array>,
  line: (text: string) => void,
): Promise<void> {
  let pending = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    let end;
    while ((end = pending.indexOf("\n")) >= 0) {
      line(pending.slice(0, end));
      pending = pending.slice(end + 1);
    }
  }
  if (pending) line(pending);
}

/** Checks `config`, then starts HAProxy with it from `dir`. */
export async function startHaproxy(
  dir: string,
  config: string,
): Promise<Haproxy> {
  const file = join(dir, "haproxy.cfg");
  const socket = /stats socket (\S+)/.exec(config)?.[1];
  if (!socket) throw new Error("the configuration has no stats socket");
  await Deno.writeTextFile(file, config);
  await run("haproxy", ["-c", "-q", "-f", file]);
  const child = new Deno.Command("haproxy", {
    args: ["-db", "-f", file],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const changes: StateChange[] = [];
  const log: string[] = [];
  const state = new Map<string, string>();
  const seen = (text: string): void => {
    const at = Date.now();
    log.push(text);
    // The same change comes as a log line and, in the foreground, a warning.
    const m = /Server [^/\s]+\/(\S+) is (UP|DOWN)\b/.exec(text);
    if (!m || state.get(m[1]) === m[2]) return;
    state.set(m[1], m[2]);
    changes.push({
      server: m[1],
      state: m[2] as "UP" | "DOWN",
      at,
      line: text,
    });
  };
  const reading = Promise.all([
    lines(child.stdout, seen),
    lines(child.stderr, seen),
  ]);
  const exited = child.status;

  const query = async (command: string): Promise<string> => {
    const conn = await Deno.connect({ transport: "unix", path: socket });
    try {
      await conn.write(new TextEncoder().encode(command + "\n"));
      return await new Response(conn.readable).text();
    } finally {
      try {
        conn.close();
      } catch {
        // The response stream closed it.
      }
    }
  };
  // Ready once its stats socket answers.
  const until = Date.now() + 5_000;
  for (;;) {
    try {
      await query("show info");
      break;
    } catch (err) {
      if (Date.now() > until) {
        try {
          child.kill("SIGKILL");
        } catch {
          // Exited already.
        }
        await exited;
        await reading;
        throw new Error(
          `haproxy did not start: ${(err as Error).message}\n${log.join("\n")}`,
        );
      }
      await sleep(50);
    }
  }

  let stopped: Promise<void> | undefined;
  return {
    changes,
    log,
    pid: child.pid,
    async waitFor(server, state, since, timeoutMs) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const found = changes.find((c) =>
          c.server === server && c.state === state && c.at >= since
        );
        if (found || Date.now() > end) return found;
        await sleep(10);
      }
    },
    async stats() {
      const [head, ...rows] = (await query("show stat")).trim().split("\n");
      const names = head.replace(/^# /, "").split(",");
      return rows.map((row) => {
        const cells = row.split(",");
        const get = (name: string): string => cells[names.indexOf(name)] ?? "";
        return {
          proxy: get("pxname"),
          server: get("svname"),
          status: get("status"),
          sessions: Number(get("stot")),
          connectErrors: Number(get("econ")),
          retries: Number(get("wretr")),
          redispatches: Number(get("wredis")),
          failedChecks: Number(get("chkfail")),
          downs: Number(get("chkdown")),
        };
      }).filter((r) => r.proxy === "hosts" && r.server !== "BACKEND").map((
        { proxy: _, ...r },
      ) => r);
    },
    stop() {
      stopped ??= (async () => {
        try {
          child.kill("SIGTERM");
        } catch {
          // Exited already.
        }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // Exited in time.
          }
        }, 2_000);
        await exited;
        clearTimeout(timer);
        await reading;
      })();
      return stopped;
    },
  };
}
