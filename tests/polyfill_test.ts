/**
 * The polyfill: what it does to a global `Deno` (none, Deno's own, a shim's),
 * checked on fake ones, and an unmodified program written for Deno, run on
 * native Deno and through the polyfill, which must print the same.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { installInto } from "../_polyfill.ts";
import {
  connect,
  errors,
  listen,
  listenTls,
  resolveDns,
  startTls,
} from "../mod.ts";
import { installPolyfill } from "../polyfill.ts";
import { DENO_BIN } from "./_oracle_client.ts";

// Not `"Deno" in globalThis`: on Node the import above just put one there.
const onDeno = typeof process.versions["deno"] === "string";
const here = new URL(".", import.meta.url);
// The tests run from source on Deno and from the build (`.js`) on Node.
const polyfillUrl = new URL(onDeno ? "../polyfill.ts" : "../polyfill.js", here)
  .href;
const modUrl = new URL(onDeno ? "../mod.ts" : "../mod.js", here).href;
const program = fileURLToPath(
  new URL("./fixtures/deno_echo_program.js", here),
);

/**
 * Runs `fn` with a folder of its own, removed after (not in an `after`
 * hook: Deno's runs none in a file whose last test is skipped).
 */
async function inTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "reuseport-polyfill-"));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const opts = { timeout: 30_000 };

type Members = Record<string, unknown>;

/** A `Deno` of another runtime or shim: working-looking functions, a few error classes, other members. */
function fakeDeno(): Members & { errors: Members } {
  class AddrInUse extends Error {}
  class NotFound extends Error {}
  return {
    listen: function listen() {
      throw new Error("the fake listen was called");
    },
    connect: function connect() {
      return Promise.reject(new Error("the fake connect was called"));
    },
    startTls: function startTls(conn: unknown) {
      return Promise.resolve({ upgradedByTheFake: conn });
    },
    errors: { AddrInUse, NotFound },
    version: { deno: "0.0.0" },
    readTextFile: () => Promise.resolve(""),
  };
}

/** The functions the polyfill installs, in the order it reports them. */
const FUNCTIONS = [
  "listen",
  "connect",
  "listenTls",
  "connectTls",
  "startTls",
  "listenDatagram",
  "resolveDns",
];

/** Runs `command` and resolves its stdout; rejects with stderr on failure. */
function output(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) {
        reject(
          new Error(`${command} ${args.join(" ")}: ${err.message}\n${stderr}`),
        );
      } else resolve(stdout);
    });
  });
}

test(
  "creates Deno with listen, connect and errors where there is none",
  opts,
  async () => {
    const scope: { Deno?: unknown } = {};
    const report = installInto(scope, false, false);
    assert.deepEqual(report, {
      native: false,
      created: true,
      copied: false,
      installed: [...FUNCTIONS, "errors"],
      kept: [],
    });
    const deno = scope.Deno as {
      listen: typeof listen;
      connect: typeof connect;
      errors: Members;
    };
    assert.equal(deno.listen, listen);
    assert.equal(deno.connect, connect);
    assert.equal((deno as Members).resolveDns, resolveDns);
    assert.deepEqual(deno.errors, { ...errors });
    // A plain object, as Deno's: programs may add to it.
    assert.ok(Object.isExtensible(deno.errors));

    const listener = deno.listen({ hostname: "127.0.0.1", port: 0 });
    const client = await deno.connect({ port: listener.addr.port });
    const server = await listener.accept();
    await client.write(new Uint8Array([1, 2, 3]));
    const buf = new Uint8Array(3);
    assert.equal(await server.read(buf), 3);
    assert.deepEqual([...buf], [1, 2, 3]);
    for (const c of [client, server, listener]) c.close();
  },
);

test("a second install changes nothing", opts, () => {
  const scope: { Deno?: unknown } = {};
  installInto(scope, false, false);
  const before = { ...(scope.Deno as Members) };
  assert.deepEqual(installInto(scope, false, true), {
    native: false,
    created: false,
    copied: false,
    installed: [],
    kept: [...FUNCTIONS, "errors"],
  });
  assert.deepEqual({ ...(scope.Deno as Members) }, before);
});

test(
  "override's startTls upgrades our conns and hands the replaced one's conns to it; a second install does not wrap again",
  opts,
  async () => {
    const deno = fakeDeno();
    installInto({ Deno: deno }, true, true);
    const installed = deno.startTls as typeof startTls;
    assert.notEqual(installed, startTls);
    // A conn the replaced startTls made: still upgraded by it.
    const theirs = { rid: 7 };
    assert.deepEqual(await installed(theirs as never), {
      upgradedByTheFake: theirs,
    });
    // Ours: upgraded by ours (which finds a read pending: Busy).
    const listener = listen({ hostname: "127.0.0.1", port: 0 });
    const [conn, server] = await Promise.all([
      connect({ port: listener.addr.port }),
      listener.accept(),
    ]);
    const reading = conn.read(new Uint8Array(1));
    await assert.rejects(installed(conn), errors.Busy);
    // As on Deno: the conn is gone, its pending read settles all the same.
    // (On Deno the conn is Deno's own: its error is Deno's BadResource, which
    // passes `instanceof errors.BadResource` without being ours.)
    assert.throws(
      () => conn.close(),
      (err) => err instanceof errors.BadResource,
    );
    server.close();
    listener.close();
    assert.equal(await reading, null);
    installInto({ Deno: deno }, true, true);
    assert.equal(deno.startTls, installed);
  },
);

test("on native Deno, without override, nothing changes", opts, () => {
  const deno = fakeDeno();
  const before = { ...deno };
  const errorsBefore = { ...deno.errors };
  assert.deepEqual(installInto({ Deno: deno }, true, false), {
    native: true,
    created: false,
    copied: false,
    installed: [],
    kept: [...FUNCTIONS, "errors"],
  });
  assert.deepEqual({ ...deno }, before);
  // Not even the error classes the fake lacks are added.
  assert.deepEqual({ ...deno.errors }, errorsBefore);
});

test(
  "override replaces listen and connect only; existing error classes stay and ours pass instanceof them",
  opts,
  () => {
    const deno = fakeDeno();
    const { version, readTextFile } = deno;
    const { AddrInUse, NotFound } = deno.errors as Record<string, typeof Error>;
    const report = installInto({ Deno: deno }, true, true);
    const added = Object.keys(errors).filter((n) =>
      n !== "AddrInUse" && n !== "NotFound"
    )
      .map((n) => `errors.${n}`);
    assert.deepEqual(report, {
      native: true,
      created: false,
      copied: false,
      installed: [...FUNCTIONS, ...added],
      kept: ["errors"],
    });
    assert.equal(deno.listen, listen);
    assert.equal(deno.listenTls, listenTls);
    assert.equal(deno.connect, connect);
    assert.equal(deno.version, version);
    assert.equal(deno.readTextFile, readTextFile);
    assert.equal(deno.errors.AddrInUse, AddrInUse);
    assert.equal(deno.errors.NotFound, NotFound);
    assert.equal(deno.errors.Busy, errors.Busy);

    const first = listen({ hostname: "127.0.0.1", port: 0 });
    try {
      assert.throws(
        () =>
          (deno.listen as typeof listen)({
            hostname: "127.0.0.1",
            port: first.addr.port,
          }),
        (err: unknown) =>
          err instanceof AddrInUse && err instanceof errors.AddrInUse &&
          (err as Error).name === "AddrInUse",
      );
    } finally {
      first.close();
    }
  },
);

test(
  "on another Deno (a shim), known-broken listen/connect are replaced, working ones and other members kept",
  opts,
  () => {
    const deno = fakeDeno();
    // The shape of @deno/shim-deno's listen, which current Node breaks.
    deno.listen = function listen(options: { port: number }) {
      const server = { _handle: null as null | { fd: number } };
      return { rid: server._handle!.fd, options };
    };
    const { connect: theirConnect, version } = deno;
    const report = installInto({ Deno: deno }, false, false);
    assert.deepEqual(report.installed.slice(0, 1), ["listen"]);
    assert.deepEqual(report.kept, ["connect", "startTls", "errors"]);
    assert.equal(deno.listen, listen);
    assert.equal(deno.connect, theirConnect);
    assert.equal(deno.version, version);
  },
);

test(
  "a Deno that cannot be changed (a module namespace, as the shim's) is replaced by a copy with ours added",
  opts,
  () => {
    const fake = fakeDeno();
    fake.listen = function listen() {
      const server = { _handle: null as null | { fd: number } };
      return server._handle!.fd;
    };
    const theirs = Object.freeze(fake.errors);
    const deno = Object.freeze(fake);
    const scope: { Deno?: unknown } = { Deno: deno };
    const report = installInto(scope, false, false);
    assert.equal(report.copied, true);
    const copy = scope.Deno as typeof fake;
    assert.notEqual(copy, deno);
    assert.equal(copy.listen, listen);
    assert.equal(copy.connect, deno.connect);
    assert.equal(copy.version, deno.version);
    assert.equal(copy.readTextFile, deno.readTextFile);
    assert.equal(copy.errors.AddrInUse, theirs.AddrInUse);
    assert.equal(copy.errors.Busy, errors.Busy);
    assert.equal(theirs.Busy, undefined);
  },
);

test(
  "an errors object that cannot be changed is replaced by a copy with ours added",
  opts,
  () => {
    const fake = fakeDeno();
    const theirs = Object.freeze(fake.errors);
    const report = installInto({ Deno: fake }, false, false);
    assert.equal(report.copied, true);
    assert.notEqual(fake.errors, theirs);
    assert.equal(fake.errors.NotFound, theirs.NotFound);
    assert.equal(fake.errors.Busy, errors.Busy);
  },
);

test(
  "on another Deno, missing members are added and the others kept",
  opts,
  () => {
    const deno: Members = { version: { deno: "0.0.0" }, errors: 5 };
    const report = installInto({ Deno: deno }, false, false);
    assert.deepEqual(report, {
      native: false,
      created: false,
      copied: false,
      installed: [...FUNCTIONS, "errors"],
      kept: [],
    });
    assert.equal(deno.listen, listen);
    assert.deepEqual(deno.errors, { ...errors });
    assert.deepEqual(deno.version, { deno: "0.0.0" });
  },
);

test("what cannot be done is a TypeError that says why", opts, () => {
  assert.throws(() => installInto({ Deno: 42 }, false, false), {
    name: "TypeError",
    message: "installPolyfill: globalThis.Deno is a number, not an object",
  });
  assert.throws(
    () => installInto(Object.freeze({ Deno: Object.freeze({}) }), false, false),
    {
      name: "TypeError",
      message:
        "installPolyfill: cannot set globalThis.Deno: it does not allow it",
    },
  );
  assert.throws(() => installPolyfill(null as unknown as undefined), {
    name: "TypeError",
    message: "installPolyfill: options must be an object, got null",
  });
  assert.throws(
    () => installPolyfill({ override: "yes" as unknown as boolean }),
    {
      name: "TypeError",
      message: 'installPolyfill: options.override must be a boolean, got "yes"',
    },
  );
});

test(
  "importing the polyfill installs on Node and leaves Deno's own alone",
  opts,
  () => {
    const deno = (globalThis as { Deno?: Members }).Deno;
    assert.ok(deno);
    if (onDeno) {
      assert.notEqual(deno.listen, listen);
      assert.equal(installPolyfill().native, true);
    } else {
      assert.equal(deno.listen, listen);
      assert.equal(deno.connect, connect);
      assert.equal(installPolyfill().native, false);
    }
  },
);

test(
  "an unmodified Deno program prints the same through the polyfill as on native Deno",
  opts,
  async () => {
    let through: string;
    if (onDeno) {
      // Deno's own Deno.listen is replaced only when asked to.
      through = await inTempDir((dir) => {
        const preload = join(dir, "override.mjs");
        writeFileSync(
          preload,
          `import { installPolyfill } from "${polyfillUrl}";\n` +
            `const { installed } = installPolyfill({ override: true });\n` +
            `if (!installed.includes("listen")) throw new Error("not installed");\n`,
        );
        return output(process.execPath, [
          "run",
          "-A",
          "--quiet",
          "--preload",
          preload,
          program,
        ]);
      });
    } else {
      through = await output(process.execPath, [
        "--import",
        polyfillUrl,
        program,
      ]);
    }
    const native = await output(DENO_BIN, ["run", "-A", "--quiet", program]);
    assert.match(native, /^alpha: wrote 5, got ALPHA$/m);
    assert.match(native, /^served 4 connections$/m);
    assert.equal(through, native);
  },
);

// On Deno the global is the runtime's and read-only: a script's shim cannot
// take its place (the assignment throws), and ours still works.
test(
  onDeno
    ? "on Deno, a Deno-like shim cannot replace the global Deno (TypeError), and ours still work"
    : "a Deno-like global that is not Deno is not taken for the runtime",
  opts,
  async () => {
    const printed = await inTempDir((dir) => {
      const script = join(dir, "shim_first.mjs");
      writeFileSync(
        script,
        `try {
      globalThis.Deno = {
        listen() { throw new Error("the shim's listen was called"); },
        connect() { throw new Error("the shim's connect was called"); },
        errors: {},
      };
    } catch (err) {
      console.log(err.name);
    }
    const { connect, listen } = await import("${modUrl}");
    const listener = listen({ hostname: "127.0.0.1", port: 0 });
    const client = await connect({ port: listener.addr.port });
    const server = await listener.accept();
    await client.write(new TextEncoder().encode("ok"));
    const buf = new Uint8Array(2);
    await server.read(buf);
    console.log(new TextDecoder().decode(buf));
    for (const c of [client, server, listener]) c.close();\n`,
      );
      return output(
        process.execPath,
        onDeno ? ["run", "-A", "--quiet", script] : [script],
      );
    });
    assert.equal(printed, onDeno ? "TypeError\nok\n" : "ok\n");
  },
);
