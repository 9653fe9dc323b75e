/**
 * What `polyfill.ts` does to a global `Deno`, over any object that holds one,
 * so tests can give it a fake `Deno` (Deno's own, a shim's) and see what it
 * changes.
 *
 * @module
 */
import * as errors from "./errors.ts";
import { resolveDns } from "./net/dns.ts";
import { Conn } from "./net/conn.ts";
import { connect, listen } from "./net/mod.ts";
import { connectTls, listenTls, startTls } from "./net/tls.ts";
import { listenDatagram } from "./net/udp.ts";

/**
 * Options of `installPolyfill`.
 *
 * @example
 * ```ts
 * import { installPolyfill, type PolyfillOptions } from "@reuseport/net/polyfill";
 *
 * const options: PolyfillOptions = { override: false };
 * installPolyfill(options);
 * ```
 */
export interface PolyfillOptions {
  /**
   * Replace Deno's networking functions (`listen`, `connect`, `listenTls`,
   * `connectTls`, `startTls`, `listenDatagram`, `resolveDns`) even where they
   * work: Deno's own (to get `reusePort` without `--unstable-net`, say) or
   * another shim's. The `startTls` put in place still upgrades the conns of
   * the one it replaced. Existing `Deno.errors` classes are kept either way.
   * Default `false`.
   */
  override?: boolean;
}

/**
 * What `installPolyfill` did.
 *
 * @example
 * ```ts
 * import { installPolyfill, type PolyfillReport } from "@reuseport/net/polyfill";
 *
 * const report: PolyfillReport = installPolyfill();
 * console.log(report.native ? "Deno's own Deno.listen" : `installed: ${report.installed}`);
 * ```
 */
export interface PolyfillReport {
  /** Whether the global `Deno` is Deno's own (the runtime is Deno). */
  native: boolean;
  /** Whether there was no global `Deno` and this call created one. */
  created: boolean;
  /**
   * Whether the existing `Deno` or its `errors` could not take new members (a
   * frozen object, or a module namespace such as `@deno/shim-deno`'s) and was
   * replaced by a copy of all its members with ours added.
   */
  copied: boolean;
  /** What this call set: a function's name (`"listen"`, `"resolveDns"`, …), `"errors"`, or `"errors.<Class>"` for a class added to an existing `Deno.errors`. */
  installed: string[];
  /** What was there and was left alone: a function's name, or `"errors"`. */
  kept: string[];
}

type Scope = { Deno?: unknown };
type Members = Record<string, unknown>;

const ours: Members = {
  listen,
  connect,
  listenTls,
  connectTls,
  startTls,
  listenDatagram,
  resolveDns,
};
/** What `installInto` puts on a `Deno`, besides `errors`. */
const API = Object.keys(ours);

/** The `startTls`s installed in place of another: ours, still taking its conns. */
const wrappers = new WeakSet<object>();

/**
 * Our `startTls` for our conns, `previous` (Deno's own, say) for the conns
 * it made: the override may add, never remove.
 */
function startTlsOver(previous: unknown): unknown {
  if (typeof previous !== "function" || wrappers.has(previous)) return startTls;
  const wrapper = (conn: unknown, options?: unknown) =>
    conn instanceof Conn
      ? startTls(conn, options as Parameters<typeof startTls>[1])
      : previous(conn, options);
  wrappers.add(wrapper);
  return wrapper;
}

/** Whether `fn` is what we installed under `name`. */
function isOurs(name: string, fn: unknown): boolean {
  return fn === ours[name] ||
    (name === "startTls" && typeof fn === "function" && wrappers.has(fn));
}
const ourErrors = errors as unknown as Record<string, new () => Error>;

/**
 * Whether `fn` is an implementation known not to work. `@deno/shim-deno`
 * (0.19) builds `listen` and `connect` on `socket._handle.fd`, which current
 * Node no longer sets in time: its `listen` throws a `TypeError` and a
 * refused `connect` never settles.
 */
function knownBroken(fn: unknown): boolean {
  return typeof fn === "function" &&
    /\._handle\.fd\b/.test(Function.prototype.toString.call(fn));
}

/**
 * Sets each of `changes` on `target`; false as soon as one does not take
 * (a frozen object, a module namespace such as `@deno/shim-deno`'s `Deno`).
 */
function assign(target: Members, changes: Members): boolean {
  return Object.entries(changes).every(([key, value]) =>
    Reflect.set(target, key, value) && target[key] === value
  );
}

/**
 * Makes our class `ours` inherit from the existing class `theirs` of the
 * same name, so that what our `listen`/`connect` throw passes
 * `instanceof Deno.errors.X` for the `Deno.errors` the program sees.
 */
function inherit(ours: new () => Error, theirs: unknown): void {
  if (typeof theirs !== "function" || theirs === ours) return;
  const proto: unknown = theirs.prototype;
  // A cycle (theirs already derives from ours) or a non-error stays as it is.
  if (
    !(proto instanceof Error) || proto === ours.prototype ||
    proto instanceof ours
  ) return;
  Object.setPrototypeOf(ours.prototype, proto);
}

/**
 * Installs our `listen`, `connect`, `listenDatagram`, `resolveDns` and
 * `errors` into `scope.Deno`: creates it if absent; otherwise adds what is
 * missing and replaces each function where it is absent, known to be broken,
 * or `override` is set
 * (on native Deno, only then). Other members of an existing `Deno` keep
 * their values; an object that cannot take the changes is replaced by a copy
 * of all its members with the changes made.
 */
export function installInto(
  scope: Scope,
  native: boolean,
  override: boolean,
): PolyfillReport {
  const report: PolyfillReport = {
    native,
    created: false,
    copied: false,
    installed: [],
    kept: [],
  };
  const deno = scope.Deno as Members | undefined | null;
  if (deno === undefined || deno === null) {
    setDeno(scope, { ...ours, errors: { ...errors } });
    report.created = true;
    report.installed.push(...API, "errors");
    return report;
  }
  if (typeof deno !== "object" && typeof deno !== "function") {
    throw new TypeError(
      `installPolyfill: globalThis.Deno is a ${typeof deno}, not an object`,
    );
  }
  if (native && !override) {
    report.kept.push(...API, "errors");
    return report;
  }

  const changes: Members = {};
  for (const name of API) {
    const current = deno[name];
    if (
      !isOurs(name, current) &&
      (typeof current !== "function" || override || knownBroken(current))
    ) {
      changes[name] = name === "startTls" ? startTlsOver(current) : ours[name];
      report.installed.push(name);
    } else report.kept.push(name);
  }

  const theirs = deno.errors as Members | undefined | null;
  if (
    theirs === undefined || theirs === null ||
    (typeof theirs !== "object" && typeof theirs !== "function")
  ) {
    changes.errors = { ...errors };
    report.installed.push("errors");
  } else {
    report.kept.push("errors");
    // Our listen/connect now throw where this Deno's errors are caught.
    const link = report.installed.length > 0;
    const missing: Members = {};
    for (const [name, cls] of Object.entries(ourErrors)) {
      if (!(name in theirs)) {
        missing[name] = cls;
        report.installed.push(`errors.${name}`);
      } else if (link) inherit(cls, theirs[name]);
    }
    if (!assign(theirs, missing)) {
      changes.errors = { ...theirs, ...missing };
      report.copied = true;
    }
  }

  if (!assign(deno, changes)) {
    setDeno(scope, { ...deno, ...changes });
    report.copied = true;
  }
  return report;
}

function setDeno(scope: Scope, deno: Members): void {
  if (!assign(scope as Members, { Deno: deno })) {
    throw new TypeError(
      "installPolyfill: cannot set globalThis.Deno: it does not allow it",
    );
  }
}
