/**
 * How rows 7 and 8 measure: UDP datagram rates (`bench/udp_server.mjs`
 * against `tools/udp_load.mjs`) and HTTP request rates over a Unix socket
 * (`bench/server.mjs --unix` against `tools/load.mjs --unix`: wrk speaks
 * TCP only).
 *
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bench, HttpLoad } from "./_measure.ts";
import { Child, output, pinned, type Server, type Stats } from "./_proc.ts";
import type { Sample } from "./_report.ts";

const STARTUP_MS = 20_000;
/** Loads may take a while on a busy machine; a hung one must not hang the run. */
const SLACK_MS = 60_000;
/** Time for what is still in the receiver's socket buffer after the last send. */
const DRAIN_MS = 300;
const WARMUP_SECONDS = 1;
/**
 * Datagrams a flood sends per second of BENCH_SECONDS: about what one
 * node:dgram sender sends here, more than any receiver takes, so that the
 * receiver's rate is what is measured.
 */
const FLOOD_PER_SECOND = 200_000;

/** What `bench/udp_server.mjs` answers: the counters and when datagrams came. */
interface DatagramStats extends Stats {
  first: number | null;
  last: number | null;
}

/**
 * Starts a server that prints anything (a Unix path, a port) as its first
 * line once it listens, and answers `bench/server.mjs`'s commands.
 */
async function startChild(command: string[], cpus?: string): Promise<Server> {
  const child = new Child(pinned(cpus, command));
  let first: string;
  try {
    first = await child.line(STARTUP_MS);
  } catch (err) {
    await child.stop();
    throw err;
  }
  return {
    port: Number(first) || 0,
    async ask(command) {
      child.send(command);
      return JSON.parse(await child.line()) as Stats;
    },
    stop: () => child.stop(),
  };
}

/** `tools/<tool>` on the system's Node, pinned to the load's core. */
function load(bench: Bench, tool: string, args: string[]): string[] {
  return pinned(bench.machine.loadCpus, ["node", `tools/${tool}`, ...args]);
}

/** Starts the UDP server `command` (`bench/udp_server.mjs`) on the server's core. */
export function startUdpServer(
  bench: Bench,
  command: string[],
): Promise<Server> {
  return startChild(command, bench.machine.serverCpus);
}

/**
 * A flood of `count` datagrams at `server`: the rate at which it received
 * them (first to last arrival), and the share of what was sent that it did
 * not receive (`loss`).
 */
async function flood(
  bench: Bench,
  server: Server,
  count: number,
): Promise<Sample> {
  await server.ask("reset");
  const out = await output(
    load(bench, "udp_load.mjs", [`--port=${server.port}`, `--flood=${count}`]),
    SLACK_MS,
  );
  const { sent } = JSON.parse(out) as { sent: number };
  await new Promise((resolve) => setTimeout(resolve, DRAIN_MS));
  const { requests: [received], first, last } = await server.ask(
    "stats",
  ) as DatagramStats;
  if (received < 2 || first === null || last === null || last === first) {
    throw new Error(`the server received ${received} of ${sent} datagrams`);
  }
  return {
    value: (received - 1) / ((last - first) / 1000),
    loss: 1 - received / sent,
  };
}

/**
 * Datagrams per second `server` receives (and what it lost) from one sender
 * process flooding it with BENCH_SECONDS × 200,000 datagrams, after a
 * warm-up flood of a fifth of that.
 */
export async function measureDatagramReceive(
  bench: Bench,
  server: Server,
): Promise<Sample> {
  const count = bench.knobs.seconds * FLOOD_PER_SECOND;
  await flood(bench, server, Math.ceil(count / 5));
  return await flood(bench, server, count);
}

async function echoRate(
  bench: Bench,
  server: Server,
  seconds: number,
): Promise<Sample> {
  const out = await output(
    load(bench, "udp_load.mjs", [
      `--port=${server.port}`,
      "--echo",
      `--seconds=${seconds}`,
    ]),
    seconds * 1000 + SLACK_MS,
  );
  const { replies, lost, seconds: took } = JSON.parse(out);
  return { value: replies / took, loss: lost / (replies + lost || 1) };
}

/**
 * Request/reply datagrams per second on `server` (32 in flight from one
 * client process), after a warm-up, and the share lost (sent again after
 * 200 ms).
 */
export async function measureDatagramEcho(
  bench: Bench,
  server: Server,
): Promise<Sample> {
  await echoRate(bench, server, WARMUP_SECONDS);
  return await echoRate(bench, server, bench.knobs.seconds);
}

/** A Unix socket path in a directory of its own, removed by `stop()`. */
export interface UnixServer extends Server {
  path: string;
}

/**
 * Starts `command(path)`, a `bench/server.mjs --unix=<path>` server, on a
 * fresh path in a temporary directory, removed when it stops (a stopped
 * node:net server leaves its socket file behind).
 */
export async function startUnixServer(
  bench: Bench,
  command: (path: string) => string[],
): Promise<UnixServer> {
  const dir = mkdtempSync(join(tmpdir(), "reuseport-bench-unix-"));
  const path = join(dir, "http.sock");
  const remove = () => rmSync(dir, { recursive: true, force: true });
  let server: Server;
  try {
    server = await startChild(command(path), bench.machine.serverCpus);
  } catch (err) {
    remove();
    throw err;
  }
  return {
    ...server,
    path,
    stop: () => server.stop().finally(remove),
  };
}

async function unixRate(
  bench: Bench,
  path: string,
  httpLoad: HttpLoad,
  seconds: number,
): Promise<number> {
  const out = await output(
    load(bench, "load.mjs", [
      `--unix=${path}`,
      "--connections=0",
      `--concurrency=${bench.knobs.connections}`,
      `--seconds=${seconds}`,
      httpLoad === "close" ? "--close" : "--requests=0",
    ]),
    seconds * 1000 + SLACK_MS,
  );
  const { requests, failed, seconds: took, errors } = JSON.parse(out);
  if (failed) {
    throw new Error(
      `${failed} requests failed over ${path}: ${JSON.stringify(errors)}`,
    );
  }
  return requests / took;
}

/** Requests per second over the Unix socket of `server` from tools/load.mjs, after a warm-up. */
export async function measureUnixRequests(
  bench: Bench,
  server: UnixServer,
  httpLoad: HttpLoad,
): Promise<Sample> {
  await unixRate(bench, server.path, httpLoad, WARMUP_SECONDS);
  return {
    value: await unixRate(bench, server.path, httpLoad, bench.knobs.seconds),
  };
}
