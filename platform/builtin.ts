/**
 * Node's built-in modules, loaded where they are first used, not where they
 * are imported. On native Deno, `listen` hands out Deno's own objects and
 * needs none of them; a static `import "node:net"` there would make Deno
 * load and initialise its Node layer's modules for every program that only
 * imports this package. `process.getBuiltinModule` loads one synchronously
 * (Node 20.16 and later, Deno 2, Bun), so the synchronous API stays
 * synchronous. Files of the package take Node's modules through `builtin`
 * only; their `import type` costs nothing at run time
 * (`tests/layout_test.ts` checks both).
 *
 * @module
 */
import type * as Buffer from "node:buffer";
import type * as ChildProcess from "node:child_process";
import type * as Crypto from "node:crypto";
import type * as Dgram from "node:dgram";
import type * as Dns from "node:dns";
import type * as Fs from "node:fs";
import type * as Net from "node:net";
import type * as Os from "node:os";
import type * as Path from "node:path";
import type Process from "node:process";
import type * as Readline from "node:readline";
import type * as Stream from "node:stream";
import type * as Timers from "node:timers";
import type * as Tls from "node:tls";
import type * as Url from "node:url";
import type * as Util from "node:util";
import type * as WorkerThreads from "node:worker_threads";

/** The modules `builtin` hands out, by name. */
export interface Builtins {
  "node:buffer": typeof Buffer;
  "node:child_process": typeof ChildProcess;
  "node:crypto": typeof Crypto;
  "node:dgram": typeof Dgram;
  "node:dns": typeof Dns;
  "node:fs": typeof Fs;
  "node:net": typeof Net;
  "node:os": typeof Os;
  "node:path": typeof Path;
  "node:process": typeof Process;
  "node:readline": typeof Readline;
  "node:stream": typeof Stream;
  "node:timers": typeof Timers;
  "node:tls": typeof Tls;
  "node:url": typeof Url;
  "node:util": typeof Util;
  "node:worker_threads": typeof WorkerThreads;
}

/** What each runtime's global `process` offers for loading one. */
interface ProcessWithBuiltins {
  getBuiltinModule(name: string): unknown;
}

/** Each module once loaded: later uses skip the runtime's own lookup. */
const loaded: Partial<Builtins> = {};

/**
 * Node's built-in module `name`, loaded on this first call (later calls
 * hand out the same module).
 *
 * @example
 * ```ts
 * import { builtin } from "./builtin.ts";
 *
 * console.log(builtin("node:path").basename("/tmp/a.txt")); // a.txt
 * ```
 */
export function builtin<K extends keyof Builtins>(name: K): Builtins[K] {
  return (loaded[name] ??= load(name));
}

/** Loads `name` through the runtime's `process.getBuiltinModule`. */
function load<K extends keyof Builtins>(name: K): Builtins[K] {
  const process = (globalThis as { process?: Partial<ProcessWithBuiltins> })
    .process;
  if (typeof process?.getBuiltinModule !== "function") {
    // Node before 20.16 and 22.3 has none: the package needs a newer one.
    throw new Error(
      `@reuseport/net needs process.getBuiltinModule (Node 20.16 or 22.3 or later) to load ${name}`,
    );
  }
  return process.getBuiltinModule(name) as Builtins[K];
}
