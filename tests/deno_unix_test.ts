/**
 * The Unix-socket behaviours that Deno's own unit tests
 * (`tests/unit/net_test.ts` in denoland/deno) check, under the names Deno
 * gives them, written here against the global `Deno` with this package in
 * place of `Deno.listen` and `Deno.connect` (on Deno, on Node and Bun through
 * the polyfill), and what else Deno does with a Unix socket's file: what
 * `close()` leaves behind, `AddrInUse` on an existing path, the errors for a
 * missing directory or a path too long. On Deno the same file also runs on
 * native `Deno.listen` and must pass there, so the shared tests state Deno's
 * behaviour; the tests of what only this package has (`loadBalanced` on a
 * path, its resource names, `NotSupported` for datagrams) are plain tests.
 *
 * `"unixpacket"` (Unix datagrams) exists on native Deno with
 * `--unstable-net` only; elsewhere `listenDatagram` for it throws
 * `NotSupported`, and these tests assert that. Every test makes its own
 * temporary folder and removes it.
 */
import assert from "node:assert/strict";
import {
  existsSync,
  mkdtempSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  errors,
  listenDatagramUnix,
  type UnixAddr,
  type UnixConn,
  type UnixDatagramOptions,
} from "../mod.ts";
import { resources } from "../ops/mod.ts";
import { runtime } from "../ops/runtime.ts";
import { onBun, onDeno, runChild, runSnippet } from "./_child.ts";
import {
  denoTest,
  denoWithOurs,
  execCode,
  NATIVE_ENV,
  rerunOnDeno,
} from "./_deno_test.ts";

const Deno = denoWithOurs();
const native = onDeno && process.env[NATIVE_ENV] === "1";

/** A datagram socket as Deno's `listenDatagram` and ours return it. */
interface DatagramConn extends AsyncIterable<[Uint8Array, UnixAddr]> {
  readonly addr: UnixAddr;
  send(p: Uint8Array, addr: UnixAddr): Promise<number>;
  receive(p?: Uint8Array): Promise<[Uint8Array, UnixAddr]>;
  close(): void;
}

/**
 * Whether this runtime has Unix datagram sockets: native Deno with
 * `--unstable-net` (asked of the runtime: the global `listenDatagram` may be
 * this package's UDP one).
 */
const unixDatagrams = runtime().unix?.listenDatagram !== undefined;

/**
 * `Deno.listenDatagram` for `"unixpacket"`: Deno's own in the native run
 * (with `--unstable-net`), ours (the polyfill's, the override's) otherwise.
 */
const listenDatagram = (options: UnixDatagramOptions): DatagramConn =>
  (globalThis as unknown as {
    Deno: { listenDatagram: (o: UnixDatagramOptions) => DatagramConn };
  }).Deno.listenDatagram(options);

/** A fresh temporary folder for one test, removed when `fn` is done. */
async function inTempDir(fn: (dir: string) => unknown): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "reuseport-unix-"));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A Linux abstract socket name no other test uses. */
function abstractName(): string {
  return `\0reuseport-unix-test-${crypto.randomUUID()}`;
}

/** Reads into a fresh buffer; resolves the bytes read, or null at the end. */
async function readBytes(
  conn: UnixConn,
  size = 1024,
): Promise<number[] | null> {
  const buf = new Uint8Array(size);
  const n = await conn.read(buf);
  return n === null ? null : [...buf.subarray(0, n)];
}

/** Resolves how `promise` settles: its value, or the error it rejects with. */
async function settled(promise: Promise<unknown>): Promise<unknown> {
  try {
    return { value: await promise };
  } catch (err) {
    return { error: err };
  }
}

/** Asserts that `fn` throws `cls` with `message`. */
function assertThrowsError(
  fn: () => unknown,
  cls: new (...args: never[]) => Error,
  message: string | RegExp,
): void {
  assert.throws(fn, (err: Error) => {
    assert.ok(err instanceof cls, `${err} is a ${cls.name}`);
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

// --- Deno's net_test.ts, Unix streams --------------------------------------

denoTest(function netUnixListenClose() {
  return inTempDir((dir) => {
    const path = join(dir, "s.sock");
    const listener = Deno.listen({ path, transport: "unix" });
    assert.equal(listener.addr.transport, "unix");
    assert.equal(listener.addr.path, path);
    listener.close();
  });
});

denoTest(async function netUnixCloseWhileAccept() {
  await inTempDir(async (dir) => {
    const listener = Deno.listen({
      path: join(dir, "s.sock"),
      transport: "unix",
    });
    const accepting = listener.accept();
    listener.close();
    await assert.rejects(accepting, (err: Error) => {
      assert.ok(err instanceof Deno.errors.BadResource);
      assert.equal(err.message, "Listener has been closed");
      return true;
    });
  });
});

denoTest(async function netUnixConcurrentAccept() {
  await inTempDir(async (dir) => {
    const listener = Deno.listen({
      transport: "unix",
      path: join(dir, "s.sock"),
    });
    const first = settled(listener.accept());
    const second = settled(listener.accept());
    // The second accept fails at once; the first waits until the close.
    const { error: busy } = await second as { error: Error };
    assert.ok(busy instanceof Deno.errors.Busy);
    listener.close();
    const { error: closed } = await first as { error: Error };
    assert.ok(closed instanceof Deno.errors.BadResource);
    assert.equal(closed.message, "Listener has been closed");
  });
});

denoTest(async function netUnixDialListen() {
  await inTempDir(async (dir) => {
    const path = join(dir, "s.sock");
    const listener = Deno.listen({ path, transport: "unix" });
    const served = listener.accept().then(async (conn) => {
      assert.equal(conn.localAddr.transport, "unix");
      assert.equal(conn.localAddr.path, path);
      // The client's end has no name: Deno reports null.
      assert.equal(conn.remoteAddr.path, null);
      await conn.write(new Uint8Array([1, 2, 3]));
      conn.close();
    });
    const conn = await Deno.connect({ path, transport: "unix" });
    assert.equal(conn.remoteAddr.transport, "unix");
    assert.equal(conn.remoteAddr.path, path);
    assert.equal(conn.localAddr.path, null);
    assert.deepEqual(await readBytes(conn), [1, 2, 3]);
    assert.equal(await readBytes(conn), null);
    await served;
    listener.close();
    conn.close();
  });
});

denoTest(async function netUnixListenCloseWhileIterating() {
  await inTempDir(async (dir) => {
    const listener = Deno.listen({
      path: join(dir, "s.sock"),
      transport: "unix",
    });
    const nextWhileClosing = listener[Symbol.asyncIterator]().next();
    listener.close();
    assert.deepEqual(await nextWhileClosing, { value: undefined, done: true });
    const nextAfterClosing = listener[Symbol.asyncIterator]().next();
    assert.deepEqual(await nextAfterClosing, { value: undefined, done: true });
  });
});

denoTest(async function netUnixAbstractPathAddr() {
  const path = abstractName();
  const listener = Deno.listen({ path, transport: "unix" });
  assert.equal(listener.addr.path, path);
  const accepting = listener.accept();
  const conn = await Deno.connect({ path, transport: "unix" });
  assert.equal(conn.remoteAddr.path, path);
  const accepted = await accepting;
  assert.equal(accepted.localAddr.path, path);
  conn.close();
  accepted.close();
  listener.close();
});

denoTest(function netUnixListenAddrAlreadyInUse() {
  return inTempDir((dir) => {
    const path = join(dir, "s.sock");
    const listener = Deno.listen({ path, transport: "unix" });
    assertThrowsError(
      () => Deno.listen({ path, transport: "unix" }),
      Deno.errors.AddrInUse,
      "Address already in use (os error 98)",
    );
    listener.close();
  });
});

// --- Deno's net_test.ts, Unix datagrams ("unixpacket") ----------------------

/** Runs `fn` where there are Unix datagrams; elsewhere asserts `NotSupported`. */
async function withDatagrams(
  fn: (dir: string) => unknown,
): Promise<void> {
  await inTempDir(async (dir) => {
    if (unixDatagrams) return await fn(dir);
    assert.throws(
      () =>
        listenDatagram({ path: join(dir, "d.sock"), transport: "unixpacket" }),
      (err: Error) => {
        assert.ok(err instanceof errors.NotSupported, String(err));
        assert.equal(err.name, "NotSupported");
        assert.match(
          err.message,
          /^Unix datagram sockets \(transport "unixpacket"\) are not available: /,
        );
        return true;
      },
    );
    // Nothing was bound: no socket file.
    assert.equal(existsSync(join(dir, "d.sock")), false);
  });
}

denoTest(async function netUnixPacketListenClose() {
  await withDatagrams((dir) => {
    const path = join(dir, "d.sock");
    const socket = listenDatagram({ path, transport: "unixpacket" });
    assert.equal(socket.addr.transport, "unixpacket");
    assert.equal(socket.addr.path, path);
    socket.close();
  });
});

denoTest(async function netUnixPacketAnonListenClose() {
  await withDatagrams(async (dir) => {
    // No path: a socket bound to no name, which can still send.
    const socket = listenDatagram({ transport: "unixpacket" });
    assert.deepEqual(socket.addr, { transport: "unixpacket", path: null });
    const bob = listenDatagram({
      path: join(dir, "bob.sock"),
      transport: "unixpacket",
    });
    assert.equal(await socket.send(new Uint8Array([1, 2]), bob.addr), 2);
    const [received, remote] = await bob.receive();
    assert.deepEqual([...received], [1, 2]);
    assert.deepEqual(remote, { transport: "unixpacket", path: null });
    // Nothing can be sent to it: its path is null (Deno sends to "").
    await assert.rejects(bob.send(new Uint8Array([3]), socket.addr), {
      name: "TypeError",
      message: "Invalid argument (os error 22)",
    });
    socket.close();
    bob.close();
  });
});

denoTest(async function netUnixPacketSendReceive() {
  await withDatagrams(async (dir) => {
    const alicePath = join(dir, "alice.sock");
    const alice = listenDatagram({ path: alicePath, transport: "unixpacket" });
    const bobPath = join(dir, "bob.sock");
    const bob = listenDatagram({ path: bobPath, transport: "unixpacket" });
    assert.equal(bob.addr.path, bobPath);
    assert.equal(await alice.send(new Uint8Array([1, 2, 3]), bob.addr), 3);
    const [received, remote] = await bob.receive();
    assert.equal(remote.transport, "unixpacket");
    assert.equal(remote.path, alicePath);
    assert.deepEqual([...received], [1, 2, 3]);
    alice.close();
    bob.close();
  });
});

denoTest(async function netUnixPacketListenCloseWhileIterating() {
  await withDatagrams(async (dir) => {
    const socket = listenDatagram({
      path: join(dir, "d.sock"),
      transport: "unixpacket",
    });
    const nextWhileClosing = socket[Symbol.asyncIterator]().next();
    socket.close();
    assert.deepEqual(await nextWhileClosing, { value: undefined, done: true });
    const nextAfterClosing = socket[Symbol.asyncIterator]().next();
    assert.deepEqual(await nextAfterClosing, { value: undefined, done: true });
  });
});

denoTest(async function netUnixPacketAbstractPathAddr() {
  await withDatagrams(async () => {
    const alicePath = abstractName();
    const alice = listenDatagram({ path: alicePath, transport: "unixpacket" });
    assert.equal(alice.addr.path, alicePath);
    const bob = listenDatagram({
      path: abstractName(),
      transport: "unixpacket",
    });
    const sent = new Uint8Array([1, 2, 3]);
    assert.equal(await alice.send(sent, bob.addr), sent.byteLength);
    const [received, remote] = await bob.receive();
    assert.equal(remote.transport, "unixpacket");
    assert.equal(remote.path, alicePath);
    assert.deepEqual([...received], [...sent]);
    alice.close();
    bob.close();
  });
});

// --- The socket file's lifecycle and Deno's errors ---------------------------

denoTest(function unixListenMakesSocketFileAndCloseRemovesIt() {
  return inTempDir((dir) => {
    const path = join(dir, "s.sock");
    const listener = Deno.listen({ path, transport: "unix" });
    assert.ok(statSync(path).isSocket());
    listener.close();
    assert.equal(existsSync(path), false);
    // The path is free again.
    Deno.listen({ path, transport: "unix" }).close();
  });
});

denoTest(function unixListenOnExistingFileIsAddrInUse() {
  return inTempDir((dir) => {
    const path = join(dir, "plain");
    writeFileSync(path, "x");
    assertThrowsError(
      () => Deno.listen({ path, transport: "unix" }),
      Deno.errors.AddrInUse,
      "Address already in use (os error 98)",
    );
    // A file that was there stays there.
    assert.ok(statSync(path).isFile());
  });
});

denoTest(async function unixListenOnStaleSocketFileIsAddrInUse() {
  await inTempDir(async (dir) => {
    const path = join(dir, "stale.sock");
    // A process that ends without closing its listener leaves the file.
    const { code, stderr } = await runSnippet(
      `listen({ transport: "unix", path: ${JSON.stringify(path)} });
      (globalThis.Deno?.exit ?? process.exit)(0);`,
    );
    assert.equal(code, 0, stderr);
    assert.ok(statSync(path).isSocket());
    assertThrowsError(
      () => Deno.listen({ path, transport: "unix" }),
      Deno.errors.AddrInUse,
      "Address already in use (os error 98)",
    );
    // Nobody listens there: a connect is refused.
    await assert.rejects(
      Deno.connect({ path, transport: "unix" }),
      Deno.errors.ConnectionRefused,
    );
  });
});

denoTest(function unixListenInMissingDirectoryIsNotFound() {
  return inTempDir((dir) => {
    assertThrowsError(
      () => Deno.listen({ path: join(dir, "no", "s.sock"), transport: "unix" }),
      Deno.errors.NotFound,
      "No such file or directory (os error 2)",
    );
  });
});

denoTest(function unixListenPathTooLong() {
  return inTempDir((dir) => {
    // sun_path holds 108 bytes, the path's NUL among them.
    const fits = join(dir, "a".repeat(107 - dir.length - 1));
    Deno.listen({ path: fits, transport: "unix" }).close();
    assertThrowsError(
      () => Deno.listen({ path: `${fits}b`, transport: "unix" }),
      TypeError,
      "path must be shorter than SUN_LEN",
    );
    // Counted in bytes: "é" is two.
    assertThrowsError(
      () =>
        Deno.listen({
          path: join(dir, "é" + "a".repeat(107 - dir.length - 2)),
          transport: "unix",
        }),
      TypeError,
      "path must be shorter than SUN_LEN",
    );
  });
});

denoTest(function unixListenAbstractNameTooLong() {
  // An abstract name needs no NUL at its end: all 108 bytes are its own.
  const full = "\0" + "n".repeat(107 - 36) + crypto.randomUUID();
  if (onBun) {
    // Bun ends the name with a NUL all the same: one byte less fits there.
    assertThrowsError(
      () => Deno.listen({ path: full, transport: "unix" }),
      errors.NotSupported,
      /^Bun \S+ takes Linux abstract socket names of at most 107 bytes/,
    );
    Deno.listen({ path: full.slice(0, -1), transport: "unix" }).close();
  } else Deno.listen({ path: full, transport: "unix" }).close();
  assertThrowsError(
    () => Deno.listen({ path: `${full}x`, transport: "unix" }),
    TypeError,
    "abstract socket name must be shorter than SUN_LEN",
  );
});

denoTest(async function unixPathWithNulInside() {
  await inTempDir(async (dir) => {
    const path = join(dir, "a\0b");
    assertThrowsError(
      () => Deno.listen({ path, transport: "unix" }),
      TypeError,
      "paths must not contain interior null bytes",
    );
    await assert.rejects(
      Deno.connect({ path, transport: "unix" }),
      (err: Error) => {
        assert.ok(err instanceof TypeError);
        assert.equal(err.message, "paths must not contain interior null bytes");
        return true;
      },
    );
  });
});

denoTest(async function unixConnectErrors() {
  await inTempDir(async (dir) => {
    await assert.rejects(
      Deno.connect({ path: join(dir, "none"), transport: "unix" }),
      (err: Error) => {
        assert.ok(err instanceof Deno.errors.NotFound);
        assert.equal(err.message, "No such file or directory (os error 2)");
        return true;
      },
    );
    const plain = join(dir, "plain");
    writeFileSync(plain, "x");
    await assert.rejects(
      Deno.connect({ path: plain, transport: "unix" }),
      (err: Error) => {
        assert.ok(err instanceof Deno.errors.ConnectionRefused);
        assert.equal(err.message, "Connection refused (os error 111)");
        return true;
      },
    );
    await assert.rejects(
      Deno.connect({ path: "", transport: "unix" }),
      (err: Error) => {
        assert.ok(err instanceof TypeError);
        assert.equal(err.message, "Invalid argument (os error 22)");
        return true;
      },
    );
  });
});

denoTest(function unixReusePortDoesNotShare() {
  return inTempDir((dir) => {
    // Deno's Unix listener takes no reusePort: a second one on the path fails.
    const options = { path: join(dir, "s.sock"), transport: "unix" as const };
    const first = Deno.listen({ ...options, reusePort: true } as never);
    assert.throws(
      () => Deno.listen({ ...options, reusePort: true } as never),
      Deno.errors.AddrInUse,
    );
    (first as { close(): void }).close();
  });
});

denoTest(async function unixConnHalfCloseAndStreams() {
  await inTempDir(async (dir) => {
    const path = join(dir, "s.sock");
    const listener = Deno.listen({ path, transport: "unix" });
    const accepting = listener.accept();
    const client = await Deno.connect({ path, transport: "unix" });
    const server = await accepting;
    assert.equal("setNoDelay" in client, false);
    assert.equal("setKeepAlive" in client, false);
    // Half-close: the server reads the end, and can still answer.
    assert.equal(await client.closeWrite(), null);
    assert.equal(await readBytes(server), null);
    await server.write(new Uint8Array([7]));
    assert.deepEqual(await readBytes(client), [7]);
    await assert.rejects(
      client.write(new Uint8Array([1])),
      (err: Error) => {
        assert.ok(err instanceof Deno.errors.BrokenPipe);
        assert.equal(err.message, "Broken pipe (os error 32)");
        return true;
      },
    );
    server.close();
    client.close();
    // Web streams: 1 MiB through an echo, in order.
    const serving = listener.accept().then((conn) =>
      conn.readable.pipeTo(conn.writable)
    );
    const conn = await Deno.connect({ path, transport: "unix" });
    const size = 1 << 20;
    const payload = new Uint8Array(size).map((_, i) => i % 251);
    const writer = conn.writable.getWriter();
    const writing = writer.write(payload).then(() => writer.releaseLock());
    const got = new Uint8Array(size);
    let n = 0;
    const reader = conn.readable.getReader();
    while (n < size) {
      const { value, done } = await reader.read();
      assert.equal(done, false);
      got.set(value!, n);
      n += value!.byteLength;
    }
    await writing;
    assert.deepEqual(got, payload);
    await reader.cancel();
    await serving;
    listener.close();
  });
});

denoTest(async function unixWriteAfterPeerClosedRejects() {
  await inTempDir(async (dir) => {
    const path = join(dir, "s.sock");
    const listener = Deno.listen({ path, transport: "unix" });
    const accepting = listener.accept();
    const client = await Deno.connect({ path, transport: "unix" });
    (await accepting).close();
    assert.equal(await readBytes(client), null);
    // The peer is gone: a write fails (EPIPE, or a reset), and no error is
    // left uncaught.
    const chunk = new Uint8Array(64 * 1024);
    let failure: unknown;
    for (let i = 0; i < 100 && !failure; i++) {
      failure = (await settled(client.write(chunk)) as { error?: unknown })
        .error;
    }
    assert.ok(
      failure instanceof Deno.errors.BrokenPipe ||
        failure instanceof Deno.errors.ConnectionReset,
      String(failure),
    );
    client.close();
    listener.close();
  });
});

denoTest(async function unixListenerUnrefLetsTheProgramEnd() {
  await inTempDir(async (dir) => {
    // An unref'd listener's pending accept does not keep the program alive.
    const path = JSON.stringify(join(dir, "s.sock"));
    const { code, stdout, stderr } = await execCode(`
      async function main() {
        const listener = Deno.listen({ transport: "unix", path: ${path} });
        listener.unref();
        console.log("waiting");
        await listener.accept();
        console.log("accepted");
      }
      main();
    `);
    assert.equal(code, 0, stderr);
    assert.equal(stdout.trim(), "waiting");
  });
});

// --- What only this package has ----------------------------------------------

oursOnly(
  "unix: rids are named unixListener and unixStream (none on Deno, whose own they are), and are all closed",
  async () => {
    await inTempDir(async (dir) => {
      const before = Object.keys(resources()).length;
      const path = join(dir, "s.sock");
      const listener = Deno.listen({ path, transport: "unix" });
      const accepting = listener.accept();
      const client = await Deno.connect({ path, transport: "unix" });
      const server = await accepting;
      const names = Object.values(resources()).sort();
      // On Deno, nothing emulated: Deno's own listener and conns, in
      // Deno's table, not ours.
      assert.deepEqual(
        names.filter((n) => n.startsWith("unix")),
        runtime().own ? [] : ["unixListener", "unixStream", "unixStream"],
      );
      client.close();
      server.close();
      listener.close();
      assert.equal(Object.keys(resources()).length, before);
    });
  },
);

/** Registers a test of what only this package does: not in the native run. */
function oursOnly(name: string, fn: () => Promise<void> | void): void {
  if (!native) test(name, { timeout: 30_000 }, fn);
}

oursOnly(
  "unix loadBalanced: listeners on one path share one socket, each connection to one of them",
  async () => {
    await inTempDir(async (dir) => {
      const path = join(dir, "s.sock");
      const options = { path, transport: "unix" as const, loadBalanced: true };
      const a = Deno.listen(options);
      const b = Deno.listen(options);
      // A listener without loadBalanced does not join: Deno's AddrInUse.
      assert.throws(
        () => Deno.listen({ path, transport: "unix" }),
        Deno.errors.AddrInUse,
      );
      const got = { a: 0, b: 0 };
      const serve = async (listener: typeof a, name: "a" | "b") => {
        for await (const conn of listener) {
          got[name]++;
          await conn.write(new TextEncoder().encode(name));
          conn.close();
        }
      };
      const serving = [serve(a, "a"), serve(b, "b")];
      const answers: string[] = [];
      for (let i = 0; i < 20; i++) {
        const conn = await Deno.connect({ path, transport: "unix" });
        const bytes = await readBytes(conn);
        answers.push(new TextDecoder().decode(new Uint8Array(bytes!)));
        conn.close();
      }
      // Every connection answered by exactly one listener, both served.
      assert.equal(answers.length, 20);
      assert.equal(got.a + got.b, 20);
      assert.ok(got.a > 0 && got.b > 0, JSON.stringify(got));
      // Closing one hands the path to the other; the file stays.
      a.close();
      assert.ok(statSync(path).isSocket());
      for (let i = 0; i < 5; i++) {
        const conn = await Deno.connect({ path, transport: "unix" });
        assert.deepEqual(await readBytes(conn), [
          ...new TextEncoder().encode("b"),
        ]);
        conn.close();
      }
      // The last one out removes it.
      b.close();
      await Promise.all(serving);
      assert.equal(existsSync(path), false);
    });
  },
);

oursOnly(
  "unix loadBalanced: a relative path and its absolute form are one socket",
  async () => {
    await inTempDir((dir) => {
      const cwd = process.cwd();
      process.chdir(dir);
      try {
        const a = Deno.listen({
          path: "s.sock",
          transport: "unix",
          loadBalanced: true,
        });
        const b = Deno.listen({
          path: join(dir, "s.sock"),
          transport: "unix",
          loadBalanced: true,
        });
        // Each reports the path it was given, as Deno would.
        assert.equal(a.addr.path, "s.sock");
        a.close();
        b.close();
        assert.equal(existsSync(join(dir, "s.sock")), false);
      } finally {
        process.chdir(cwd);
      }
    });
  },
);

oursOnly(
  "unixpacket: NotSupported says why where the runtime has none; Deno's socket where it has",
  () => {
    return inTempDir((dir) => {
      const options: UnixDatagramOptions = {
        path: join(dir, "d.sock"),
        transport: "unixpacket",
      };
      if (unixDatagrams) {
        const socket = listenDatagramUnix(options);
        assert.deepEqual(socket.addr, {
          transport: "unixpacket",
          path: options.path,
        });
        assert.deepEqual(
          Object.values(resources()).filter((n) => n === "unixDatagram"),
          ["unixDatagram"],
        );
        socket.close();
        return;
      }
      const why = onDeno
        ? /only with --unstable-net/
        : onBun
        ? /^.*: Bun \S+ has no Unix datagram sockets in its public API/
        : /^.*: Node v\d+\.\d+\.\d+ has no Unix datagram sockets \(node:dgram has only UDP\)$/;
      assertThrowsError(
        () => listenDatagramUnix(options),
        errors.NotSupported,
        why,
      );
      // Deno.listenDatagram's "unixpacket", named or not, says the same.
      for (const o of [options, { transport: "unixpacket" } as const]) {
        assertThrowsError(() => listenDatagram(o), errors.NotSupported, why);
      }
    });
  },
);

oursOnly(
  "unix: an empty path (Linux autobind) gets Deno's abstract name on Deno, NotSupported where the name cannot be known",
  () => {
    for (const path of ["", "\0"]) {
      if (onDeno) {
        const listener = Deno.listen({ path, transport: "unix" });
        assert.match(listener.addr.path, /^\0[0-9a-f]{5}$/);
        listener.close();
        continue;
      }
      assertThrowsError(
        () => Deno.listen({ path, transport: "unix" }),
        errors.NotSupported,
        /cannot report the name it picked/,
      );
    }
  },
);

oursOnly(
  "unix through the polyfill in a fresh program (on Deno: installPolyfill({ override: true }))",
  async () => {
    await inTempDir(async (dir) => {
      const path = join(dir, "s.sock");
      const { code, stdout, stderr } = await execCode(`
      const listener = Deno.listen({ transport: "unix", path: ${
        JSON.stringify(path)
      } });
      const accepting = listener.accept();
      const conn = await Deno.connect({ transport: "unix", path: listener.addr.path });
      const server = await accepting;
      await conn.write(new TextEncoder().encode("ping"));
      const buf = new Uint8Array(4);
      await server.read(buf);
      console.log(JSON.stringify([listener.addr, new TextDecoder().decode(buf)]));
      conn.close(); server.close(); listener.close();
    `);
      assert.equal(code, 0, stderr);
      assert.deepEqual(JSON.parse(stdout), [
        { transport: "unix", path },
        "ping",
      ]);
    });
  },
);

/**
 * Runs `code` (after an import of this package's `listen` and `connect`) on
 * Deno with exactly `flags`, no `-A`; resolves its output.
 */
async function runWithFlags(flags: string[], code: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "reuseport-unix-perm-"));
  const file = join(dir, "main.mjs");
  writeFileSync(
    file,
    `import { connect, listen } from ${
      JSON.stringify(new URL("../mod.ts", import.meta.url).href)
    };\n${code}`,
  );
  try {
    const { code: status, stdout, stderr } = await runChild(
      ["run", "--no-prompt", "--quiet", ...flags, file],
      { NO_COLOR: "1" },
    );
    assert.equal(status, 0, stderr);
    return stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Deno's netUnixListenWritePermission, netUnixListenRequiresAllowNet,
// netUnixConnectRequiresAllowNet and netUnixScopedAllowNetMatchesExactly:
// ours, in a program without the permission, throws Deno's NotCapable as
// Deno's own does (Node and Bun have no permission sandbox).
if (onDeno && !native && !unixDatagrams) {
  test(
    "permissions: ours throws NotCapable for a Unix socket as Deno's own does",
    {
      timeout: 30_000,
    },
    async () => {
      await inTempDir(async (dir) => {
        const path = JSON.stringify(join(dir, "s.sock"));
        const probe = `const seen = [];
        const note = (err) => seen.push(err?.name);
        try { listen({ transport: "unix", path: ${path} }).close(); seen.push("listened"); } catch (err) { note(err); }
        try { Deno.listen({ transport: "unix", path: ${path} }).close(); seen.push("listened"); } catch (err) { note(err); }
        await connect({ transport: "unix", path: ${path} }).then(() => seen.push("connected"), note);
        await Deno.connect({ transport: "unix", path: ${path} }).then(() => seen.push("connected"), note);
        console.log(JSON.stringify(seen));`;
        const read = `--allow-read=${dir}`;
        const write = `--allow-write=${dir}`;
        const cases: [string[], string[]][] = [
          // No net: listen and connect both need it.
          [[read, write, "--allow-env"], Array(4).fill("NotCapable")],
          // Net for another path only.
          [
            [read, write, "--allow-net=unix:/some/other/path.sock"],
            Array(4).fill("NotCapable"),
          ],
          // No write: listen and connect both need it.
          [[read, "--allow-net"], [
            "NotCapable",
            "NotCapable",
            "NotCapable",
            "NotCapable",
          ]],
        ];
        for (const [flags, expected] of cases) {
          // The module itself is read from the repository.
          const repo = fileURLToPath(new URL("..", import.meta.url));
          const withRepo = flags.map((f) => f === read ? `${read},${repo}` : f);
          assert.deepEqual(
            JSON.parse(await runWithFlags(withRepo, probe)),
            expected,
            flags.join(" "),
          );
        }
      });
    },
  );
}

if (onDeno && !native && !unixDatagrams) {
  rerunOnDeno(
    "these tests pass on native Deno too (Deno's own listen, connect and listenDatagram)",
    import.meta.url,
    { [NATIVE_ENV]: "1" },
  );

  test(
    "with --unstable-net, ours has Deno's Unix datagrams (these tests, run again)",
    {
      timeout: 60_000,
    },
    async () => {
      const { code, stdout, stderr } = await runChild(
        ["test", "-A", "--unstable-net", fileURLToPath(import.meta.url)],
        { NO_COLOR: "1" },
        50_000,
      );
      assert.equal(code, 0, stdout + stderr);
      assert.match(stdout, /ok \| \d+ passed \| 0 failed/);
    },
  );
}
