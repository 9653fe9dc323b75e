/**
 * Child processes of `npm run bench`: servers (started, asked for their
 * counters, stopped) and load generators, pinned to cores with `taskset`.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { freePort } from "../tools/balancing.ts";

const STARTUP_MS = 20_000;
const REPLY_MS = 20_000;

/** `command` under `taskset -c <cpus>` when `cpus` is given. */
export function pinned(cpus: string | undefined, command: string[]): string[] {
  return cpus === undefined ? command : ["taskset", "-c", cpus, ...command];
}

/** How long a stopping server may take before it is killed. */
const STOP_GRACE_MS = 3_000;

/**
 * A child process whose stdout is read line by line. Until `stop()`, its
 * exit is an error that fails whoever waits for a line.
 */
export class Child {
  readonly #proc: ChildProcess;
  readonly #name: string;
  readonly #exited: Promise<void>;
  #lines: string[] = [];
  #waiter: ((line: string | Error) => void) | null = null;
  #failure: Error | null = null;
  #stopping = false;

  /** Starts `command`; stderr goes to ours, stdin stays open for `send`. */
  constructor(command: string[]) {
    const [cmd, ...args] = command;
    this.#name = command.join(" ");
    this.#proc = spawn(cmd, args, { stdio: ["pipe", "pipe", "inherit"] });
    createInterface({ input: this.#proc.stdout! }).on("line", (line) => {
      if (this.#waiter) this.#settle(line);
      else this.#lines.push(line);
    });
    this.#exited = new Promise((resolve) => {
      this.#proc.once("exit", (code, signal) => {
        this.#fail(new Error(`${this.#name} exited (${signal ?? code})`));
        resolve();
      });
      this.#proc.once("error", (err) => {
        this.#fail(new Error(`${this.#name} failed: ${err.message}`));
        resolve();
      });
    });
    // A child that died leaves an EPIPE on its stdin: its exit says more.
    this.#proc.stdin!.on("error", () => {});
  }

  #settle(line: string | Error): void {
    const waiter = this.#waiter!;
    this.#waiter = null;
    waiter(line);
  }

  #fail(err: Error): void {
    if (this.#stopping) return;
    this.#failure ??= err;
    if (this.#waiter) this.#settle(err);
  }

  /** The next line of stdout; rejects after `timeoutMs` or if the child exits. */
  line(timeoutMs: number = REPLY_MS): Promise<string> {
    const queued = this.#lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = null;
        reject(new Error(`${this.#name}: no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiter = (line) => {
        clearTimeout(timer);
        if (line instanceof Error) reject(line);
        else resolve(line);
      };
    });
  }

  /** Writes one line to the child's stdin. */
  send(line: string): void {
    this.#proc.stdin!.write(line + "\n");
  }

  /**
   * Stops the child (SIGTERM, so that a runner can stop its workers and
   * clean up; SIGKILL after a grace period) and waits until it is gone.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#proc.exitCode === null && this.#proc.signalCode === null) {
      this.#proc.kill("SIGTERM");
      const timer = setTimeout(() => this.#proc.kill("SIGKILL"), STOP_GRACE_MS);
      await this.#exited;
      clearTimeout(timer);
    }
    await this.#exited;
  }
}

/** A program's whole stdout; rejects if it fails or outlives `timeoutMs`. */
export function output(command: string[], timeoutMs: number): Promise<string> {
  const [cmd, ...args] = command;
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (chunk) => out += chunk);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`${command.join(" ")} failed: ${err.message}`));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${command.join(" ")} exited (${signal ?? code})`));
    });
  });
}

/** What a server counted: requests per worker, open connections, memory. */
export interface Stats {
  requests: number[];
  connections: number;
  rss: number;
}

/** A running server: its port, its counters, a way to stop it. */
export interface Server {
  port: number;
  /** Sends `command` (`stats`, `listen <n>`) and returns the counters after it. */
  ask(command: string): Promise<Stats>;
  stop(): Promise<void>;
}

/** Starts `bench/server.mjs` (or anything speaking its stdin/stdout protocol). */
export async function startServer(
  command: string[],
  cpus?: string,
): Promise<Server> {
  const child = new Child(pinned(cpus, command));
  let port: number;
  try {
    const line = await child.line(STARTUP_MS);
    port = Number(line);
    if (!Number.isInteger(port) || port <= 0) {
      throw new Error(`${command.join(" ")} printed '${line}', not a port`);
    }
  } catch (err) {
    await child.stop();
    throw err;
  }
  return {
    port,
    async ask(command) {
      child.send(command);
      return JSON.parse(await child.line()) as Stats;
    },
    stop: () => child.stop(),
  };
}

/** Counters of servers that share a port, as one server's. */
function mergeStats(all: Stats[]): Stats {
  return {
    requests: all.flatMap((s) => s.requests),
    connections: all.reduce((sum, s) => sum + s.connections, 0),
    rss: all.reduce((sum, s) => sum + s.rss, 0),
  };
}

/** `count` servers on one port: the first one picks it, the others join it. */
export async function startGroup(
  count: number,
  commandFor: (port: number) => string[],
  cpus?: string,
): Promise<Server> {
  const servers = [await startServer(commandFor(0), cpus)];
  try {
    for (let i = 1; i < count; i++) {
      servers.push(await startServer(commandFor(servers[0].port), cpus));
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.stop()));
    throw err;
  }
  return {
    port: servers[0].port,
    ask: async (command) =>
      mergeStats(await Promise.all(servers.map((s) => s.ask(command)))),
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * nginx as one process (no master, no daemon) answering as the `http` and
 * `close` workloads do, from a configuration in a temporary directory.
 */
export async function startNginx(path: string, cpus?: string): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), "reuseport-bench-nginx-"));
  const port = freePort();
  // Debian's build has absolute temp paths under /var/lib/nginx: keep them here.
  const temps = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((t) => `  ${t}_temp_path ${join(dir, t)};`).join("\n");
  writeFileSync(
    join(dir, "nginx.conf"),
    `daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} error;
events { worker_connections 4096; }
http {
  access_log off;
  server_tokens off;
  keepalive_requests 100000000;
${temps}
  server {
    listen 127.0.0.1:${port};
    location / {
      default_type text/plain;
      return 200 "Hello, World!";
    }
  }
}
`,
  );
  const child = new Child(
    pinned(cpus, [
      path,
      "-p",
      dir,
      "-c",
      join(dir, "nginx.conf"),
      "-e",
      join(dir, "error.log"),
    ]),
  );
  const stop = async () => {
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + STARTUP_MS;
  while (!(await accepting(port))) {
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nginx did not listen on ${port}; see ${dir}/error.log`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    ask: () => Promise.reject(new Error("nginx keeps no counters for us")),
    stop,
  };
}

/** Runs `use` on a server started by `start`, and stops it whatever happens. */
export async function withServer<T>(
  start: () => Promise<Server>,
  use: (server: Server) => Promise<T>,
): Promise<T> {
  const server = await start();
  try {
    return await use(server);
  } finally {
    await server.stop();
  }
}
