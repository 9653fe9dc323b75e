/**
 * The command line of the parallel runner:
 * `reuseport serve [--parallel[=N]] [--threads|--processes] <module> [args...]`:
 * runs the module in N workers whose listeners share their addresses (like
 * `deno serve --parallel`). Ctrl-C stops them gracefully; a second Ctrl-C
 * kills them; `kill -HUP` replaces them one at a time (a rolling reload;
 * not on Windows, which has no such signal: call `reload()` of
 * `serveParallel()` there). `reuseport --help`, `reuseport serve --help` and `reuseport
 * --version` print to stdout and exit 0; a usage error exits 2, and so does a
 * module that cannot load (a worker exits before its first `listen()` as the
 * runner starts), in one line.
 *
 * @module
 */
import { readFileSync, realpathSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { parseArgs as parseOptions } from "node:util";
import { serveParallel } from "./parallel.ts";
import type {
  ParallelEvent,
  ParallelMode,
  ParallelServer,
} from "./runner/types.ts";

const USAGE =
  `usage: reuseport serve [--parallel[=N]] [--threads|--processes] <module> [args...]
       reuseport --help | --version`;

const HELP = `${USAGE}

Commands:
  serve      run a module in workers whose listeners share their addresses

Options:
  -h, --help     show this help (\`reuseport serve --help\`: the command's)
  --version      show the version
`;

const SERVE_HELP =
  `usage: reuseport serve [--parallel[=N]] [--threads|--processes] <module> [args...]

Runs <module> in N workers; every listen() in them defaults to
loadBalanced: true, so they all serve its addresses (like deno serve
--parallel). REUSEPORT_WORKER (1..N) tells a worker its number. If a worker
exits before its first listen() as the runner starts, the module cannot load:
the runner ends, exit status 2. A worker that dies later is restarted. Ctrl-C
stops them gracefully, a second Ctrl-C kills them.
SIGHUP (kill -HUP, not on Windows) reloads: each worker in turn is replaced by
a new one, which starts and listens before the old one stops, so that no
connection is refused. Options after <module> are the module's own.

Options:
  --parallel[=N]  N workers (default: one per available core); without it, one
  --threads       workers are worker threads
  --processes     workers are processes (default: threads where connections
                  can move between threads, processes elsewhere)
  -h, --help      show this help
`;

/** What the command line asks for. */
export type Command =
  | { action: "help"; text: string }
  | { action: "version" }
  | ServeCommand;

/** `reuseport serve ...`: the module to run and how. */
export interface ServeCommand {
  action: "serve";
  workers: number;
  mode: ParallelMode;
  file: string;
  args: string[];
}

/** `reuseport`'s own options; everything after the module is the module's. */
const OPTIONS = {
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
  parallel: { type: "boolean" },
  threads: { type: "boolean" },
  processes: { type: "boolean" },
} as const;

/** Options each place accepts: before the command, and `serve`'s. */
const ACCEPTS: Record<"top" | "serve", string[]> = {
  top: ["help", "version"],
  serve: ["help", "parallel", "threads", "processes"],
};

/**
 * Parses the command line with node:util's `parseArgs`; throws a `TypeError`
 * naming what is wrong. Parsing stops at the module: the rest is its own.
 */
export function parseArgs(argv: string[]): Command {
  // Not strict: `--parallel` takes a value only inline (`--parallel=3`),
  // which strict boolean parsing would refuse; each token is checked here.
  const { tokens } = parseOptions({
    args: argv,
    options: OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  let place: "top" | "serve" = "top";
  let workers = 1;
  let mode: ParallelMode = "auto";
  for (const token of tokens) {
    if (token.kind === "option-terminator") continue;
    if (token.kind === "positional") {
      if (place === "top") {
        if (token.value !== "serve") {
          throw new TypeError(`unknown command ${JSON.stringify(token.value)}`);
        }
        place = "serve";
        continue;
      }
      const file = resolve(token.value);
      const args = argv.slice(token.index + 1);
      return { action: "serve", workers, mode, file, args };
    }
    const name = token.name;
    if (!ACCEPTS[place].includes(name)) {
      throw new TypeError(`unknown option ${token.rawName}`);
    }
    if (token.value !== undefined && name !== "parallel") {
      throw new TypeError(`${token.rawName} takes no value`);
    }
    if (name === "help") {
      return { action: "help", text: place === "top" ? HELP : SERVE_HELP };
    }
    if (name === "version") return { action: "version" };
    if (name === "threads" || name === "processes") mode = name;
    if (name === "parallel") workers = parallelWorkers(token.value);
  }
  throw new TypeError(place === "top" ? "no command given" : "no module given");
}

/** `--parallel` alone: one worker per core; `--parallel=N`: N. */
function parallelWorkers(value: string | undefined): number {
  if (value === undefined) return availableParallelism();
  const workers = Number(value);
  if (!Number.isInteger(workers) || workers < 1) {
    throw new TypeError(
      `--parallel wants a positive integer: received ${JSON.stringify(value)}`,
    );
  }
  return workers;
}

/**
 * This package's version, from the manifest beside the command's file:
 * `deno.json` beside `bin.ts` (the source), or the `package.json` above
 * `esm/bin.js` (the npm build; `node_modules/.bin` links to it). Found from
 * the running program, since the CommonJS build has no `import.meta`.
 */
function version(): string {
  const main = process.argv[1];
  if (!main) return "unknown";
  let dir: string;
  try {
    dir = dirname(realpathSync(main));
  } catch {
    return "unknown";
  }
  for (const manifest of ["deno.json", join("..", "package.json")]) {
    try {
      const { name, version } = JSON.parse(
        readFileSync(join(dir, manifest), "utf8"),
      );
      if (name === "@reuseport/net" && typeof version === "string") {
        return version;
      }
    } catch {
      // Not this layout; try the next.
    }
  }
  return "unknown";
}

/** Reports restarts, give-ups and reloads on stderr. */
function report(event: ParallelEvent): void {
  if (event.type === "reload") {
    return void process.stderr.write(
      `reuseport: worker ${event.worker} reloaded: ${
        event.old ?? "-"
      } -> ${event.new}\n`,
    );
  }
  if (event.type === "reload-failed") {
    return void process.stderr.write(`reuseport: ${event.message}\n`);
  }
  if (event.type !== "restart" && event.type !== "give-up") return;
  const what = event.type === "restart"
    ? "restarting it"
    : "it keeps dying at start; not restarting it";
  process.stderr.write(
    `reuseport: worker ${event.worker} exited with code ${event.code}; ${what}\n`,
  );
  if (event.type === "give-up") process.exitCode = 1;
}

/**
 * SIGHUP: a rolling reload of `server()`; its failure is reported and the old
 * workers serve on. One that comes while the workers start is ignored (its
 * default would end the runner).
 */
function reloadOnHangup(server: () => ParallelServer | undefined): void {
  // Windows has no SIGHUP to send (Node emits it there when the console
  // closes, shortly before the process is ended): nothing to reload on.
  if (process.platform === "win32") return;
  process.on("SIGHUP", () => {
    const running = server();
    if (!running) return;
    process.stderr.write("reuseport: reloading workers\n");
    running.reload().then(
      (changes) =>
        process.stderr.write(
          `reuseport: reloaded ${changes.length} workers\n`,
        ),
      // The failure was reported as an event; the workers serve on.
      () => {},
    );
  });
}

/** Runs the command; resolves the exit code (or never, while serving). */
export async function main(argv: string[]): Promise<number> {
  let command: Command;
  try {
    command = parseArgs(argv);
  } catch (err) {
    const { name, message } = err as Error;
    process.stderr.write(`reuseport: ${name}: ${message}\n${USAGE}\n`);
    return 2;
  }
  if (command.action === "help") {
    process.stdout.write(command.text);
    return 0;
  }
  if (command.action === "version") {
    process.stdout.write(`reuseport ${version()}\n`);
    return 0;
  }
  const { workers, mode, file, args } = command;
  let server: ParallelServer | undefined;
  // Until every worker listens there is no server to close: Ctrl-C aborts
  // the start, which stops the workers.
  const starting = new AbortController();
  let stops = 0;
  const stop = () => {
    if (++stops > 1) process.exit(130);
    process.stderr.write("reuseport: stopping workers\n");
    if (!server) return starting.abort();
    server.close().then(() => process.exit(process.exitCode ?? 0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  reloadOnHangup(() => server);
  // The workers' output passes through here (threads; a process's stderr);
  // a reader that went away must cost the log, not the server.
  for (const out of [process.stdout, process.stderr]) {
    out.on("error", (err: Error & { code?: string }) => {
      if (err.code !== "EPIPE") throw err;
    });
  }
  try {
    server = await serveParallel({
      workers,
      mode,
      file,
      args,
      onEvent: report,
      signal: starting.signal,
    });
  } catch (err) {
    if (starting.signal.aborted) return Number(process.exitCode ?? 0);
    const { name, message } = err as Error;
    // What the runner cannot do here names its class, with the usage; a
    // module that cannot load (a plain Error) is one line.
    process.stderr.write(
      name === "Error"
        ? `reuseport: ${message}\n`
        : `reuseport: ${name}: ${message}\n${USAGE}\n`,
    );
    return 2;
  }
  const choice = server.strategy;
  const how = choice.strategy !== "emulated"
    ? choice.reason
    : server.mode === "threads"
    ? "the first worker thread to listen on an address holds its socket (handing it on when its listener closes) and moves connections to the worker waiting for one"
    : "the primary owns each socket and passes connections to the worker waiting for one over IPC";
  process.stderr.write(
    `reuseport: ${server.workers} workers (${server.mode}), strategy ${choice.strategy}: ${how}\n`,
  );
  // The workers keep the process alive; `stop` exits it.
  return await new Promise<number>(() => {});
}
