/**
 * The TCP behaviours that Deno's own unit tests (`tests/unit/net_test.ts` in
 * denoland/deno) check, one test each under the name Deno gives it, written
 * here against the global `Deno` with this package in place of `Deno.listen`
 * and `Deno.connect`: on Deno (its `Deno.errors`), and on Node through the
 * polyfill. Ports are the OS's choice, not Deno's fixed ones, so runs in
 * parallel do not collide; the hosts are loopback.
 *
 * Not here, as they are not TCP or not Linux: the UDP, Unix-socket and
 * Unix-datagram tests, `netTcpListenReusePortDoesNothing` (not Linux), and
 * `netTcpWithAbortSignal` (ignored by Deno itself; it dials deno.com). The
 * permission tests (`NotCapable` without `--allow-net`) are Unix-socket tests,
 * and Deno's sandbox has no counterpart on Node (see the README).
 */
import assert from "node:assert/strict";
import process from "node:process";
import { test } from "node:test";
import type { NetAddr, TcpConn } from "../mod.ts";
import { modUrl, onDeno, runSnippet } from "./_child.ts";
import {
  denoTest,
  denoWithOurs,
  execCode,
  execCode2,
  NATIVE_ENV,
  rerunOnDeno,
} from "./_deno_test.ts";

const Deno = denoWithOurs();
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
const loopback = "127.0.0.1";

/** Resolves how `promise` settles: its value, or the error it rejects with. */
async function settled(promise: Promise<unknown>): Promise<unknown> {
  try {
    return { value: await promise };
  } catch (err) {
    return { error: err };
  }
}

/** Reads into a fresh buffer; resolves the bytes read, or null at the end. */
async function readBytes(conn: TcpConn, size = 1024): Promise<number[] | null> {
  const buf = new Uint8Array(size);
  const n = await conn.read(buf);
  return n === null ? null : [...buf.subarray(0, n)];
}

denoTest(function netTcpListenClose() {
  const listener = Deno.listen({ hostname: loopback, port: 0 });
  assert.equal(listener.addr.transport, "tcp");
  assert.equal(listener.addr.hostname, loopback);
  assert.ok(listener.addr.port > 0);
  listener.close();
});

denoTest(async function netTcpCloseWhileAccept() {
  const listener = Deno.listen({ hostname: loopback, port: 0 });
  const accepting = listener.accept();
  listener.close();
  await assert.rejects(accepting, (err: Error) => {
    assert.ok(err instanceof Deno.errors.BadResource);
    assert.equal(err.message, "Listener has been closed");
    return true;
  });
});

denoTest(async function netTcpListenAfterCloseWhileAcceptSettles() {
  const listener = Deno.listen({ hostname: loopback, port: 0 });
  const { hostname, port } = listener.addr;
  const accepting = listener.accept();
  listener.close();
  await assert.rejects(accepting, Deno.errors.BadResource);
  // The port is free again as soon as the pending accept settled.
  const again = Deno.listen({ hostname, port });
  assert.equal(again.addr.port, port);
  again.close();
});

denoTest(async function netTcpListenAfterCloseWhileAsyncIteratorSettles() {
  const listener = Deno.listen({ hostname: loopback, port: 0 });
  const { hostname, port } = listener.addr;
  const next = listener[Symbol.asyncIterator]().next();
  listener.close();
  assert.deepEqual(await next, { value: undefined, done: true });
  Deno.listen({ hostname, port }).close();
});

denoTest(async function netTcpConcurrentAccept() {
  const listener = Deno.listen({ hostname: loopback, port: 0 });
  const first = settled(listener.accept());
  const second = settled(listener.accept());
  // The second accept fails at once; the first waits until the close.
  const { error: busy } = await second as { error: Error };
  assert.ok(busy instanceof Deno.errors.Busy);
  assert.equal(busy.message, "Another accept task is ongoing");
  listener.close();
  const { error: closed } = await first as { error: Error };
  assert.ok(closed instanceof Deno.errors.BadResource);
  assert.equal(closed.message, "Listener has been closed");
});

/** Deno's netTcpDialListen and its variants: the server writes 1, 2, 3 and closes. */
async function dialListen(tune?: (conn: TcpConn) => void): Promise<void> {
  const listener = Deno.listen({ hostname: loopback, port: 0 });
  const { port } = listener.addr;
  const served = listener.accept().then(async (conn) => {
    assert.equal(conn.localAddr.transport, "tcp");
    assert.equal(conn.localAddr.hostname, loopback);
    assert.equal(conn.localAddr.port, port);
    assert.equal(conn.remoteAddr.hostname, loopback);
    await conn.write(new Uint8Array([1, 2, 3]));
    conn.close();
  });
  const conn = await Deno.connect({ hostname: loopback, port });
  tune?.(conn);
  assert.equal(conn.remoteAddr.transport, "tcp");
  assert.equal(conn.remoteAddr.hostname, loopback);
  assert.equal(conn.remoteAddr.port, port);
  assert.equal(conn.localAddr.hostname, loopback);
  assert.ok(conn.localAddr.port > 0);
  assert.deepEqual(await readBytes(conn), [1, 2, 3]);
  assert.equal(await readBytes(conn), null);
  await served;
  listener.close();
  conn.close();
}

denoTest(function netTcpDialListen() {
  return dialListen();
});

denoTest(function netTcpSetNoDelay() {
  return dialListen((conn) => assert.equal(conn.setNoDelay(true), null));
});

denoTest(function netTcpSetKeepAlive() {
  return dialListen((conn) => assert.equal(conn.setKeepAlive(true), null));
});

denoTest(async function netTcpListenIteratorBreakClosesResource() {
  const listener = Deno.listen({ hostname: loopback, port: 0 });
  const addr = { hostname: loopback, port: listener.addr.port };
  let served = 0;
  const iterating = (async () => {
    for await (const conn of listener) {
      conn.close();
      if (++served > 1) break;
    }
  })();
  await delay(50);
  for (let i = 0; i < 2; i++) (await Deno.connect(addr)).close();
  await iterating;
  assert.equal(served, 2);
  // Leaving the loop closed the listener (the sanitizer checks its rid too).
  assert.throws(() => listener.close(), Deno.errors.BadResource);
});

denoTest(async function netTcpListenCloseWhileIterating() {
  const listener = Deno.listen({ hostname: loopback, port: 0 });
  const whileClosing = listener[Symbol.asyncIterator]().next();
  listener.close();
  assert.deepEqual(await whileClosing, { value: undefined, done: true });
  const afterClosing = listener[Symbol.asyncIterator]().next();
  assert.deepEqual(await afterClosing, { value: undefined, done: true });
});

denoTest(async function netListenAsyncIterator() {
  const listener = Deno.listen({ hostname: loopback, port: 0 });
  const serving = (async () => {
    for await (const conn of listener) {
      await conn.write(new Uint8Array([1, 2, 3]));
      conn.close();
    }
  })();
  const conn = await Deno.connect({
    hostname: loopback,
    port: listener.addr.port,
  });
  assert.deepEqual(await readBytes(conn), [1, 2, 3]);
  assert.equal(await readBytes(conn), null);
  listener.close();
  conn.close();
  await serving;
});

denoTest(async function netCloseWriteSuccess() {
  const listener = Deno.listen({ hostname: loopback, port: 0 });
  let resolve!: () => void;
  const release = new Promise<void>((r) => resolve = r);
  const served = listener.accept().then(async (conn) => {
    await conn.write(new Uint8Array([1, 2, 3]));
    // The client's half-close reaches the server as the end of its stream.
    assert.equal(await readBytes(conn), null);
    await release;
    conn.close();
  });
  const conn = await Deno.connect({
    hostname: loopback,
    port: listener.addr.port,
  });
  const closing = conn.closeWrite();
  // Reading is not affected.
  assert.deepEqual(await readBytes(conn), [1, 2, 3]);
  assert.equal(await closing, null);
  await assert.rejects(
    conn.write(new Uint8Array([1, 2, 3])),
    Deno.errors.BrokenPipe,
  );
  resolve();
  await served;
  listener.close();
  conn.close();
});

denoTest(async function netHangsOnClose() {
  const listener = Deno.listen({ hostname: loopback, port: 0 });
  let accepted: TcpConn | undefined;
  const serving = (async () => {
    const conn = await listener.accept();
    accepted = conn;
    const buf = new Uint8Array(10);
    try {
      while (await conn.read(buf) !== null) {
        await conn.write(new Uint8Array([1, 2, 3]));
      }
    } catch (err) {
      // The one error a read may meet here: its own conn closed under it.
      assert.ok(err instanceof Deno.errors.Interrupted, String(err));
    }
  })();
  const conn = await Deno.connect({
    hostname: loopback,
    port: listener.addr.port,
  });
  await conn.write(new Uint8Array([1, 2, 3, 4]));
  assert.ok(await conn.read(new Uint8Array(10)));
  conn.close();
  // The server's read sees the client's end or, pending when its own conn
  // closes, rejects with Interrupted (a race in Deno too): either way the
  // loop ends and nothing hangs.
  accepted!.close();
  listener.close();
  await serving;
});

denoTest(function netExplicitUndefinedHostname() {
  const listener = Deno.listen({ hostname: undefined, port: 0 });
  assert.equal((listener.addr as NetAddr).hostname, "0.0.0.0");
  listener.close();
});

denoTest(async function whatwgStreams() {
  const listener = Deno.listen({ hostname: loopback, port: 0 });
  const server = (async () => {
    const conn = await listener.accept();
    await conn.readable.pipeTo(conn.writable);
    listener.close();
  })();
  const conn = await Deno.connect({
    hostname: loopback,
    port: listener.addr.port,
  });
  const reader = conn.readable.getReader();
  const writer = conn.writable.getWriter();
  await writer.write(new TextEncoder().encode("Hello World"));
  const { value, done } = await reader.read();
  assert.equal(done, false);
  assert.equal(new TextDecoder().decode(value), "Hello World");
  // Cancelling the readable closes the connection; the server's pipe ends.
  await reader.cancel();
  await server;
});

// The child programs wait in a function, not at the top level: a module
// whose top-level await never settles is an error of its own.

denoTest(async function netListenUnref() {
  const { code, stderr } = await execCode(`
    async function main() {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      listener.unref();
      await listener.accept(); // does not keep the program alive
      throw new Error("not reached");
    }
    main();
  `);
  assert.equal(code, 0, stderr);
});

denoTest(async function netListenUnref2() {
  const { code, stdout, stderr } = await execCode(`
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    async function main() {
      (await listener.accept()).close();
      listener.unref();
      console.log("accepted once");
      await listener.accept(); // the program exits here
      throw new Error("not reached");
    }
    main();
    const conn = await Deno.connect({ port: listener.addr.port });
    conn.close();
  `);
  assert.equal(code, 0, stderr);
  assert.equal(stdout.trim(), "accepted once");
});

denoTest(async function netListenUnrefAndRef() {
  const child = execCode2(`
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    listener.unref();
    listener.ref(); // keeps the program alive again
    console.log("started " + listener.addr.port);
    (await listener.accept()).close();
    console.log("accepted");
    listener.close();
  `);
  const out = await child.waitStdoutText("started");
  const port = Number(/started (\d+)/.exec(out)![1]);
  const conn = await Deno.connect({ hostname: loopback, port });
  conn.close();
  const { code, stdout, stderr } = await child.finished();
  assert.equal(code, 0, stderr);
  assert.equal(stdout.trim(), `started ${port}\naccepted`);
});

denoTest(async function netListenUnrefConcurrentAccept() {
  const timer = setTimeout(() => {}, 1000);
  const listener = Deno.listen({ hostname: loopback, port: 0 });
  const first = listener.accept().catch((err) => err);
  listener.unref();
  // Unref'd, the listener still refuses a second concurrent accept.
  await assert.rejects(listener.accept(), Deno.errors.Busy);
  listener.close();
  assert.ok((await first) instanceof Deno.errors.BadResource);
  clearTimeout(timer);
});

/** Deno's netConnUnref and netConnUnrefReadable: an unref'd conn's pending read lets the child exit. */
async function connUnref(read: string): Promise<void> {
  const listener = Deno.listen({ hostname: loopback, port: 0 });
  // This process stays alive; the child must exit on its own.
  const keepAlive = setInterval(() => {}, 1000);
  const program = execCode(`
    async function main() {
      const conn = await Deno.connect({ port: ${listener.addr.port} });
      conn.unref();
      ${read} // the program exits here
      throw new Error("not reached");
    }
    main();
  `);
  const conn = await listener.accept();
  const { code, stderr } = await program;
  conn.close();
  listener.close();
  clearInterval(keepAlive);
  assert.equal(code, 0, stderr);
}

denoTest(function netConnUnref() {
  return connUnref("await conn.read(new Uint8Array(10));");
});

denoTest(function netConnUnrefReadable() {
  return connUnref("await conn.readable.getReader().read();");
});

denoTest(async function netTcpReuseAddr() {
  const first = Deno.listen({ hostname: loopback, port: 0 });
  const addr = { hostname: loopback, port: first.addr.port };
  // Twice on one port: the first listener's connection leaves TIME_WAIT
  // behind, which must not stop the second listen (SO_REUSEADDR).
  for (const listener of [first, undefined]) {
    const l = listener ?? Deno.listen(addr);
    const served = l.accept().then((conn) => conn.close());
    const conn = await Deno.connect(addr);
    assert.equal(await conn.read(new Uint8Array(1024)), null);
    await served;
    l.close();
    conn.close();
  }
});

denoTest(
  { ignore: process.platform !== "linux" && "Linux's SO_REUSEPORT" },
  async function netTcpListenReusePort() {
    const listener1 = Deno.listen({
      hostname: loopback,
      port: 0,
      reusePort: true,
    });
    const { port } = listener1.addr;
    const listener2 = Deno.listen({
      hostname: loopback,
      port,
      reusePort: true,
    });
    const got = [false, false];
    // Each listener takes one connection and closes; connect until both did.
    const serve = (listener: typeof listener1, i: number) =>
      listener.accept().then((conn) => {
        conn.close();
        got[i] = true;
        listener.close();
      });
    const serving = [serve(listener1, 0), serve(listener2, 1)];
    for (let i = 0; i < 500 && !(got[0] && got[1]); i++) {
      (await Deno.connect({ hostname: loopback, port })).close();
      await Promise.race([...serving, delay(5)]);
    }
    await Promise.all(serving);
    assert.deepEqual(got, [true, true]);
  },
);

denoTest(function netTcpListenDoesNotThrowOnStringPort() {
  const listener = Deno.listen(
    { hostname: "localhost", port: "0" } as unknown as Parameters<
      typeof Deno.listen
    >[0],
  );
  listener.close();
});

denoTest(async function listenerExplicitResourceManagement() {
  let accepting: Promise<unknown>;
  {
    using listener = Deno.listen({ hostname: loopback, port: 0 });
    accepting = settled(listener.accept());
  }
  // Leaving the block disposed of the listener.
  const { error } = await accepting as { error: unknown };
  assert.ok(error instanceof Deno.errors.BadResource);
});

denoTest(async function listenerExplicitResourceManagementManualClose() {
  using listener = Deno.listen({ hostname: loopback, port: 0 });
  listener.close();
  await assert.rejects(listener.accept(), Deno.errors.BadResource);
  // Disposing after the manual close, at the end of the block, is a no-op.
});

if (onDeno) {
  test(
    "permissions: with --deny-net, ours throw NotCapable on Deno as Deno's own do",
    { timeout: 30_000 },
    async () => {
      const { code, stdout, stderr } = await runSnippet(
        `const seen = [];
        const note = (err) => seen.push(err instanceof Deno.errors.NotCapable && err.name);
        try { listen({ hostname: "127.0.0.1", port: 0 }); } catch (err) { note(err); }
        try { listen({ hostname: "127.0.0.1", port: 0, reusePort: true }); } catch (err) { note(err); }
        await connect({ port: 9 }).catch(note);
        console.log(JSON.stringify(seen));`,
        { NO_COLOR: "1" },
        // Deny overrides -A (a child Deno started from one with -A would
        // have every permission otherwise).
        ["--deny-net", "--no-prompt", "--quiet"],
      );
      assert.equal(code, 0, stderr);
      assert.deepEqual(JSON.parse(stdout), [
        "NotCapable",
        "NotCapable",
        "NotCapable",
      ]);
    },
  );
} else {
  // Node and Bun have no network sandbox to deny with (README: nothing is
  // refused there; the class exists, for code that checks for it).
  test(
    "permissions: on Node and Bun nothing is refused; errors.NotCapable exists, named as Deno's",
    { timeout: 30_000 },
    async () => {
      const { code, stdout, stderr } = await runSnippet(
        `import { errors } from "${modUrl}";
        const seen = [];
        const a = listen({ hostname: "127.0.0.1", port: 0 });
        seen.push(a.addr.transport);
        const b = listen({ hostname: "127.0.0.1", port: 0, reusePort: true });
        seen.push(b.addr.transport);
        const conn = await connect({ hostname: "127.0.0.1", port: a.addr.port });
        seen.push(conn.remoteAddr.port === a.addr.port);
        conn.close();
        a.close();
        b.close();
        const err = new errors.NotCapable("Requires net access");
        seen.push(err.name, err instanceof Error);
        console.log(JSON.stringify(seen));`,
      );
      assert.equal(code, 0, stderr);
      assert.deepEqual(JSON.parse(stdout), [
        "tcp",
        "tcp",
        true,
        "NotCapable",
        true,
      ]);
    },
  );
}

if (onDeno && process.env[NATIVE_ENV] !== "1") {
  rerunOnDeno(
    "these tests pass on native Deno too (Deno's own listen and connect)",
    import.meta.url,
    { [NATIVE_ENV]: "1" },
  );
}
