/**
 * What `npm run bench` runs with: its knobs (environment variables, checked)
 * and the machine (tools, binaries, versions, which cores to pin to).
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cpus } from "node:os";
import process from "node:process";
import {
  bunBinary,
  NODE_LINES,
  nodeBinary,
  runtimesFromEnv,
} from "../scripts/runtimes.ts";

/** The knobs, from `BENCH_*` environment variables. */
export interface Knobs {
  /** Rounds per row; every candidate runs once per round. */
  rounds: number;
  /** Seconds of load per request-rate measurement (after 1 s of warm-up); whole, as wrk wants. */
  seconds: number;
  /** Concurrent connections of the request-rate loads. */
  connections: number;
  /** MiB echoed per bulk-transfer measurement. */
  bulkMiB: number;
  /** Idle connections opened for the memory row. */
  idleConnections: number;
  /** Listeners opened for the memory row. */
  listeners: number;
  /** Ids of the rows to run; all when empty. */
  rows: string[];
  /** Where nginx is; its reference rows are skipped when it is absent. */
  nginx: string;
  /** Node major lines the Node rows run on, newest first (BENCH_NODE). */
  nodeLines: number[];
}

function knob(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!(value > 0) || !Number.isInteger(value)) {
    throw new RangeError(`${name} must be a positive integer, got '${raw}'`);
  }
  return value;
}

/**
 * The Node lines of BENCH_NODE, newest first; by default the newest two of
 * `scripts/runtimes.ts` (each line adds about 5 minutes).
 */
function nodeLines(): number[] {
  const lines = runtimesFromEnv("BENCH_NODE", NODE_LINES.slice(-2));
  const majors = lines.filter((r) => typeof r === "number");
  if (!majors.length || majors.length < lines.length) {
    throw new RangeError(
      `BENCH_NODE must list Node major lines, got '${process.env.BENCH_NODE}'`,
    );
  }
  return [...new Set(majors)].sort((a, b) => b - a);
}

/** Reads the knobs; a bad value throws, naming the variable. */
export function readKnobs(): Knobs {
  return {
    rounds: knob("BENCH_ROUNDS", 5),
    seconds: knob("BENCH_SECONDS", 3),
    connections: knob("BENCH_CONNECTIONS", 64),
    bulkMiB: knob("BENCH_BULK_MIB", 1024),
    idleConnections: knob("BENCH_IDLE_CONNECTIONS", 4000),
    listeners: knob("BENCH_LISTENERS", 500),
    rows: (process.env.BENCH_ROWS ?? "").split(",").map((s) => s.trim())
      .filter(Boolean),
    nginx: process.env.BENCH_NGINX || "/usr/sbin/nginx",
    nodeLines: nodeLines(),
  };
}

/** A program and its version, or why it cannot be used. */
export interface Tool {
  path?: string;
  version?: string;
  unavailable?: string;
}

/** The machine the suite runs on. */
export interface Machine {
  os: string;
  cpu: string;
  cores: number;
  /** The Node of each BENCH_NODE line, newest first: each runs the single-process Node rows. */
  nodes: Tool[];
  /** The newest of them if >= 22.12, on Linux: the multi-core row (kernel strategy). */
  nodeKernel: Tool;
  deno: Tool;
  /** Bun 1.x from npm (`.cache/bun/`): rows 1 and 2. */
  bun: Tool;
  nginx: Tool;
  wrk: boolean;
  taskset: boolean;
  /** `taskset -c` lists for servers and for load, when pinning. */
  serverCpus?: string;
  loadCpus?: string;
}

/** The repository's Deno, which runs this suite. */
export const DENO = "node_modules/.bin/deno";

function has(command: string): boolean {
  try {
    execFileSync("which", [command], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function version(path: string, args: string[], pattern: RegExp): Tool {
  try {
    const out = execFileSync(path, args, {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    return { path, version: pattern.exec(out)?.[1] ?? out.trim() };
  } catch (err) {
    return { unavailable: `${path} did not run: ${(err as Error).message}` };
  }
}

function nginxVersion(path: string): Tool {
  if (!existsSync(path)) return { unavailable: `${path} is not installed` };
  // `nginx -v` prints to stderr; run it through a shell to read it.
  try {
    const out = execFileSync("sh", ["-c", `"$0" -v 2>&1`, path], {
      encoding: "utf8",
    });
    return { path, version: /nginx\/(\S+)/.exec(out)?.[1] ?? out.trim() };
  } catch (err) {
    return { unavailable: `${path} -v failed: ${(err as Error).message}` };
  }
}

function atLeast(v: string, major: number, minor: number): boolean {
  const [a, b] = v.split(".").map(Number);
  return a > major || (a === major && b >= minor);
}

/** The Node binary of a major line: the system one if it is of that line, else fetched into `.cache/`. */
async function nodeOfLine(major: number, system: Tool): Promise<Tool> {
  if (system.version?.split(".")[0] === String(major)) return system;
  try {
    return version(await nodeBinary(major), ["--version"], /v(\S+)/);
  } catch (err) {
    return { unavailable: `no Node ${major}: ${(err as Error).message}` };
  }
}

function kernelNode(os: string, newest: Tool): Tool {
  if (os !== "linux") {
    return { unavailable: `SO_REUSEPORT balancing is Linux-only, not ${os}` };
  }
  if (newest.unavailable) return newest;
  if (newest.version && atLeast(newest.version, 22, 12)) return newest;
  return { unavailable: `Node ${newest.version} is older than 22.12` };
}

/** Bun, fetched from npm into `.cache/bun/` on first use, as `npm test` does. */
async function bunTool(): Promise<Tool> {
  try {
    return version(await bunBinary(), ["--version"], /^(\S+)/);
  } catch (err) {
    return { unavailable: `no Bun: ${(err as Error).message}` };
  }
}

/** Looks the machine over: tools, versions, cores. */
export async function inspectMachine(knobs: Knobs): Promise<Machine> {
  const os = process.platform;
  const cpuList = cpus();
  const system = version("node", ["--version"], /v(\S+)/);
  const nodes: Tool[] = [];
  for (const major of knobs.nodeLines) {
    nodes.push(await nodeOfLine(major, system));
  }
  const taskset = has("taskset") && cpuList.length >= 2;
  return {
    os,
    cpu: cpuList[0]?.model ?? "unknown",
    cores: cpuList.length,
    nodes,
    nodeKernel: kernelNode(os, nodes[0]),
    deno: version(DENO, ["--version"], /deno (\S+)/),
    bun: await bunTool(),
    nginx: nginxVersion(knobs.nginx),
    wrk: has("wrk"),
    taskset,
    serverCpus: taskset ? "0" : undefined,
    loadCpus: taskset ? String(cpuList.length - 1) : undefined,
  };
}
