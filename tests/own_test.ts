/**
 * The runtime's own objects where nothing is emulated (`Runtime.own`): on
 * Deno, `listen` without sharing (or with the kernel's, where Deno's own
 * listen binds with `SO_REUSEPORT`) hands out Deno's own listener, whose
 * connections are Deno's `TcpConn`s, and `connect` Deno's own conn; what
 * emulates stays ours. Either way Deno's own `startTls` takes the conn,
 * with the polyfill's override and without. The same for Unix sockets
 * (Deno's own listener and `UnixConn`s, ours with `loadBalanced`) and UDP
 * (Deno's own `DatagramConn` with `--unstable-net` and no `reusePort`).
 * Elsewhere (Node, Bun) every object is ours, which the same tests assert
 * there.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  Conn,
  connect,
  connectTls,
  errors,
  listen,
  Listener,
  listenTls,
  type NetAddr,
  setStrategy,
  startTls,
  strategyFor,
  TcpConn,
  type TcpListener,
  TlsConn,
  UnixConn,
  type UnixListener,
} from "../mod.ts";
import { op_net_connect_tcp, resources } from "../ops/mod.ts";
import { installInto } from "../_polyfill.ts";
import { denoNamespace } from "../platform/deno/_native.ts";
import { testCerts } from "./_certs.ts";
import { modUrl, onDeno, runSnippet } from "./_child.ts";

const HOST = "127.0.0.1";
const opts = { timeout: 30_000 };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** How many rids our resource table holds. */
const ridCount = (): number => Object.keys(resources()).length;

/** Closes `them` and asserts that our table holds what it held `before`. */
function closeAll(before: number, ...them: { close(): void }[]): void {
  for (const it of them) it.close();
  assert.equal(ridCount(), before);
}

/** Runs `fn` with a new temporary directory, removed after. */
async function inTempDir(
  prefix: string,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Deno's own prototypes of a listener and a TCP conn, from Deno's own functions. */
async function denoPrototypes(): Promise<{ listener: object; conn: object }> {
  const deno = denoNamespace()!;
  const listener = deno.listen({ hostname: HOST, port: 0 });
  const [client, server] = await Promise.all([
    deno.connect({ hostname: HOST, port: listener.addr.port }),
    listener.accept(),
  ]);
  const protos = {
    listener: Object.getPrototypeOf(listener),
    conn: Object.getPrototypeOf(client),
  };
  assert.equal(Object.getPrototypeOf(server), protos.conn);
  client.close();
  server.close();
  listener.close();
  return protos;
}

/** Whether `conn` is the runtime's own (not one of ours). */
function seenOwn(conn: TcpConn): boolean {
  return Object.getPrototypeOf(conn) !== TcpConn.prototype;
}

/** Writes `text` on `from` and reads it whole on `to`. */
async function roundTrip(
  from: Conn<unknown>,
  to: Conn<unknown>,
  text: string,
): Promise<void> {
  await from.write(encoder.encode(text));
  const buf = new Uint8Array(text.length);
  let got = 0;
  while (got < text.length) {
    const n = await to.read(buf.subarray(got));
    assert.notEqual(n, null, "the stream ended early");
    got += n!;
  }
  assert.equal(decoder.decode(buf), text);
}

/** A listener, a client connected to it and the conn it accepted. */
async function pair(
  listener: TcpListener,
): Promise<[TcpConn, TcpConn]> {
  return await Promise.all([
    connect({ hostname: HOST, port: listener.addr.port }),
    listener.accept(),
  ]);
}

test(
  "listen and connect without sharing: Deno's own listener and TcpConns on Deno (none in our table), ours elsewhere",
  opts,
  async () => {
    const before = ridCount();
    const listener = listen({ hostname: HOST, port: 0 });
    const [client, server] = await pair(listener);
    await roundTrip(client, server, "ping");
    await roundTrip(server, client, "pong");
    assert.ok(listener instanceof Listener);
    for (const conn of [client, server]) {
      assert.ok(conn instanceof TcpConn);
      assert.ok(conn instanceof Conn);
      assert.equal(conn instanceof TlsConn, false);
    }
    if (onDeno) {
      const deno = await denoPrototypes();
      assert.equal(Object.getPrototypeOf(listener), deno.listener);
      assert.equal(Object.getPrototypeOf(client), deno.conn);
      assert.equal(Object.getPrototypeOf(server), deno.conn);
      assert.equal(ridCount(), before);
    } else {
      assert.equal(Object.getPrototypeOf(listener), Listener.prototype);
      assert.equal(Object.getPrototypeOf(client), TcpConn.prototype);
      assert.equal(Object.getPrototypeOf(server), TcpConn.prototype);
      assert.equal(ridCount(), before + 3);
    }
    closeAll(before, client, server, listener);
  },
);

test(
  "instanceof our classes: neither look-alikes nor a program's subclasses take the runtime's own objects",
  opts,
  async () => {
    const listener = listen({ hostname: HOST, port: 0 });
    const [client, server] = await pair(listener);
    class MyConn extends TcpConn {}
    class MyListener extends Listener {}
    assert.equal(client instanceof MyConn, false);
    assert.equal(listener instanceof MyListener, false);
    const lookAlike = {
      read: client.read,
      write: client.write,
      close: client.close,
      localAddr: client.localAddr,
      remoteAddr: client.remoteAddr,
    };
    assert.equal(lookAlike instanceof Conn, false);
    assert.equal(lookAlike instanceof TcpConn, false);
    assert.equal(Object.create(Listener.prototype) instanceof Listener, true);
    assert.equal({ addr: listener.addr } instanceof Listener, false);
    assert.equal((null as unknown) instanceof Conn, false);
    client.close();
    server.close();
    listener.close();
  },
);

test(
  "what the runtime's own objects throw passes instanceof errors.X (and Deno.errors.X on Deno)",
  opts,
  async () => {
    const listener = listen({ hostname: HOST, port: 0 });
    const [client, server] = await pair(listener);
    client.close();
    server.close();
    listener.close();
    for (const closeAgain of [() => listener.close(), () => client.close()]) {
      const err = (() => {
        try {
          closeAgain();
        } catch (err) {
          return err;
        }
      })();
      assert.ok(err instanceof errors.BadResource);
      assert.equal((err as Error).name, "BadResource");
      assert.equal(err instanceof errors.Busy, false);
      if (onDeno) assert.ok(err instanceof denoNamespace()!.errors.BadResource);
    }
    await assert.rejects(listener.accept(), (err) => {
      assert.ok(err instanceof errors.BadResource);
      return true;
    });
    if (onDeno) {
      const theirs = new (denoNamespace()!.errors.BrokenPipe)();
      assert.ok(theirs instanceof errors.BrokenPipe);
      class MyPipe extends errors.BrokenPipe {}
      assert.equal(theirs instanceof MyPipe, false);
      assert.ok(new MyPipe("x") instanceof errors.BrokenPipe);
    }
  },
);

test(
  "what emulates stays ours: a loadBalanced or emulated reusePort listener and its conns are in our table",
  opts,
  async () => {
    for (
      const [strategy, options] of [
        [undefined, { loadBalanced: true }],
        ["emulated", { reusePort: true }],
      ] as const
    ) {
      setStrategy(strategy);
      try {
        const before = ridCount();
        const a = listen({ hostname: HOST, port: 0, ...options });
        const b = listen({ hostname: HOST, port: a.addr.port, ...options });
        assert.equal(Object.getPrototypeOf(a), Listener.prototype);
        const [client, server] = await pair(a);
        assert.equal(Object.getPrototypeOf(server), TcpConn.prototype);
        await roundTrip(client, server, "shared");
        // Listeners a and b, the server's conn; the client's too off Deno.
        assert.equal(ridCount(), before + (onDeno ? 3 : 4));
        closeAll(before, client, server, a, b);
      } finally {
        setStrategy(undefined);
      }
    }
  },
);

/**
 * The `startTls`s to check: Deno's own and the override's over it on Deno;
 * elsewhere ours and the override's over nothing (which is ours).
 */
function startTlsFunctions(): [string, typeof startTls][] {
  const own = denoNamespace()?.startTls as typeof startTls | undefined;
  const scope = { Deno: { startTls: own } };
  installInto(scope, onDeno, true);
  const override = scope.Deno.startTls as typeof startTls;
  assert.notEqual(override, own);
  return onDeno
    ? [["Deno.startTls", own!], ["override's Deno.startTls", override]]
    : [["startTls", startTls], ["polyfill's Deno.startTls", override]];
}

/** A TLS server echoing one message per connection, with the test CA. */
function echoTls(): { port: number; ca: string; close(): Promise<void> } {
  const certs = testCerts();
  const listener = listenTls({
    hostname: HOST,
    port: 0,
    cert: certs.server.cert,
    key: certs.server.key,
  });
  const served = (async () => {
    for await (const conn of listener) {
      const buf = new Uint8Array(64);
      try {
        const n = await conn.read(buf);
        if (n !== null) await conn.write(buf.subarray(0, n));
      } catch {
        // A client whose startTls was refused closes without TLS; the
        // client's side asserts what it heard.
      }
      conn.close();
    }
  })();
  return {
    port: listener.addr.port,
    ca: certs.ca.cert,
    close: async () => {
      listener.close();
      await served;
    },
  };
}

/** Upgrades `conn` with `start` to the echo server, says `text`, hears it back. */
async function echoOverTls(
  start: typeof startTls,
  conn: TcpConn,
  ca: string,
  text: string,
): Promise<void> {
  const tls = await start(conn, { hostname: "localhost", caCerts: [ca] });
  assert.ok(tls instanceof TlsConn);
  await tls.write(encoder.encode(text));
  const buf = new Uint8Array(64);
  const n = await tls.read(buf);
  assert.equal(decoder.decode(buf.subarray(0, n ?? 0)), text);
  tls.close();
  // As on Deno: the conn was taken over.
  assert.throws(() => conn.close(), (err) => err instanceof errors.BadResource);
}

test(
  "Deno's own startTls takes our conns, with and without the override: connect's, ours over the ops, an emulated listener's; a kernel listener's over Deno's Node layer only the override's",
  opts,
  async () => {
    const server = echoTls();
    const before = ridCount();
    try {
      for (const [name, start] of startTlsFunctions()) {
        // connect's: Deno's own on Deno, ours elsewhere.
        const direct = await connect({ hostname: HOST, port: server.port });
        await echoOverTls(start, direct, server.ca, `${name}: connect`);

        // Ours over the ops, on every runtime.
        const [rid, local, remote] = await op_net_connect_tcp({
          hostname: HOST,
          port: server.port,
        });
        const addr = (a: typeof local): NetAddr => ({ transport: "tcp", ...a });
        const overOps = new TcpConn(rid, addr(remote), addr(local));
        assert.equal(Object.getPrototypeOf(overOps), TcpConn.prototype);
        await echoOverTls(start, overOps, server.ca, `${name}: ops`);

        // An emulated listener's conn (ours), its peer relayed to the server.
        setStrategy("emulated");
        const front = listen({ hostname: HOST, port: 0, reusePort: true });
        setStrategy(undefined);
        const [peer, accepted] = await pair(front);
        assert.equal(Object.getPrototypeOf(accepted), TcpConn.prototype);
        const back = await connect({ hostname: HOST, port: server.port });
        const relay = Promise.all([
          peer.readable.pipeTo(back.writable),
          back.readable.pipeTo(peer.writable),
        ]).catch(() => {/* a side closed first: the relay ends */});
        await echoOverTls(start, accepted, server.ca, `${name}: emulated`);
        front.close();
        await relay;

        if (strategyFor({ reusePort: true }).strategy !== "kernel") continue;
        // A kernel listener's conn: on Deno without --unstable-net, ours
        // over Deno's Node layer, with no Deno conn beneath: Deno's own
        // startTls cannot take it (a TypeError), the override's does.
        const kernel = listen({ hostname: HOST, port: 0, reusePort: true });
        const [kPeer, kAccepted] = await pair(kernel);
        const kBack = await connect({ hostname: HOST, port: server.port });
        const kRelay = Promise.all([
          kPeer.readable.pipeTo(kBack.writable),
          kBack.readable.pipeTo(kPeer.writable),
        ]).catch(() => {/* a side closed first: the relay ends */});
        if (name === "Deno.startTls" && !seenOwn(kAccepted)) {
          await assert.rejects(
            start(kAccepted, { hostname: "localhost", caCerts: [server.ca] }),
            TypeError,
          );
          kAccepted.close();
          kPeer.close();
        } else {
          await echoOverTls(start, kAccepted, server.ca, `${name}: kernel`);
        }
        kernel.close();
        await kRelay;
      }
      assert.equal(ridCount(), before);
    } finally {
      setStrategy(undefined);
      await server.close();
    }
  },
);

test(
  "reusePort with the kernel's strategy: Deno's own listener where Deno binds so itself (--unstable-net), ours through its Node layer without",
  opts,
  async () => {
    const body = `
      import { Listener, TcpConn } from "${modUrl}";
      const a = listen({ hostname: "127.0.0.1", port: 0, reusePort: true });
      const b = listen({ hostname: "127.0.0.1", port: a.addr.port, reusePort: true });
      const accepted = Promise.race([a.accept(), b.accept()]);
      const client = await connect({ port: a.addr.port });
      const server = await accepted;
      console.log(JSON.stringify({
        strategy: strategyFor({ reusePort: true }).strategy,
        ours: Object.getPrototypeOf(a) === Listener.prototype,
        oursConn: Object.getPrototypeOf(server) === TcpConn.prototype,
        instance: a instanceof Listener && server instanceof TcpConn,
      }));
      client.close(); server.close(); a.close(); b.close();
    `;
    const plain = await runSnippet(body);
    assert.equal(plain.code, 0, plain.stderr);
    const seen = JSON.parse(plain.stdout);
    assert.equal(seen.instance, true);
    assert.equal(seen.ours, seen.oursConn);
    if (onDeno) {
      // Without the flag, Deno's own listen would exit the process: ours.
      assert.deepEqual(seen, {
        strategy: "kernel",
        ours: true,
        oursConn: true,
        instance: true,
      });
      const flagged = await runSnippet(body, {}, ["--unstable-net"]);
      assert.equal(flagged.code, 0, flagged.stderr);
      assert.deepEqual(JSON.parse(flagged.stdout), {
        strategy: "kernel",
        ours: false,
        oursConn: false,
        instance: true,
      });
    } else assert.equal(seen.ours, true);
  },
);

test(
  "listenTls and connectTls without sharing: Deno's own TLS listener and TlsConns on Deno (none in our table), ours elsewhere and where shared",
  opts,
  async () => {
    const certs = testCerts();
    const keyPair = { cert: certs.server.cert, key: certs.server.key };
    const before = ridCount();
    for (const loadBalanced of [false, true]) {
      const listener = listenTls({
        hostname: HOST,
        port: 0,
        loadBalanced,
        ...keyPair,
      });
      const [client, server] = await Promise.all([
        connectTls({
          hostname: "localhost",
          port: listener.addr.port,
          caCerts: [certs.ca.cert],
        }),
        listener.accept(),
      ]);
      await roundTrip(client, server, "hello over TLS");
      assert.ok(listener instanceof Listener);
      for (const conn of [client, server]) {
        assert.ok(conn instanceof TlsConn);
        assert.ok(conn instanceof Conn);
        assert.equal(conn instanceof TcpConn, false);
      }
      const own = onDeno && !loadBalanced;
      assert.equal(
        Object.getPrototypeOf(listener) === Listener.prototype,
        !own,
      );
      assert.equal(Object.getPrototypeOf(server) === TlsConn.prototype, !own);
      // connect's side has nothing to share: Deno's own on Deno.
      assert.equal(
        Object.getPrototypeOf(client) === TlsConn.prototype,
        !onDeno,
      );
      const ours = (own ? 0 : 2) + (onDeno ? 0 : 1);
      assert.equal(ridCount(), before + ours);
      closeAll(before, client, server, listener);
    }
  },
);

/** A listener on a Unix socket in a new temporary directory, and a client and server conn over it. */
async function unixPair(
  dir: string,
  loadBalanced?: boolean,
): Promise<[UnixListener, UnixConn, UnixConn]> {
  const path = join(dir, "s.sock");
  const listener = listen({ transport: "unix", path, loadBalanced });
  const [client, server] = await Promise.all([
    connect({ transport: "unix", path }),
    listener.accept(),
  ]);
  return [listener, client, server];
}

test(
  "Unix listen and connect without loadBalanced: Deno's own listener and UnixConns on Deno (none in our table), ours elsewhere",
  opts,
  () =>
    inTempDir("own-unix-", async (dir) => {
      const before = ridCount();
      const [listener, client, server] = await unixPair(dir);
      await roundTrip(client, server, "ping");
      await roundTrip(server, client, "pong");
      assert.ok(listener instanceof Listener);
      for (const conn of [client, server]) {
        assert.ok(conn instanceof UnixConn);
        assert.ok(conn instanceof Conn);
        assert.equal(conn instanceof TcpConn, false);
        assert.equal(conn instanceof TlsConn, false);
      }
      class MyUnixConn extends UnixConn {}
      assert.equal(client instanceof MyUnixConn, false);
      assert.equal({ ...client } instanceof UnixConn, false);
      if (onDeno) {
        const deno = denoNamespace()!;
        const path = join(dir, "native.sock");
        const native = deno.listen({ transport: "unix", path });
        const nativeConn = await deno.connect({ transport: "unix", path });
        assert.equal(
          Object.getPrototypeOf(listener),
          Object.getPrototypeOf(native),
        );
        assert.equal(
          Object.getPrototypeOf(client),
          Object.getPrototypeOf(nativeConn),
        );
        assert.equal(
          Object.getPrototypeOf(server),
          Object.getPrototypeOf(nativeConn),
        );
        closeAll(before, nativeConn, native);
      } else {
        assert.equal(Object.getPrototypeOf(listener), Listener.prototype);
        assert.equal(Object.getPrototypeOf(client), UnixConn.prototype);
        assert.equal(Object.getPrototypeOf(server), UnixConn.prototype);
        assert.equal(ridCount(), before + 3);
      }
      // A TCP conn is no UnixConn, Deno's own or ours.
      const tcp = listen({ hostname: HOST, port: 0 });
      const [tcpClient, tcpServer] = await pair(tcp);
      assert.equal(tcpClient instanceof UnixConn, false);
      closeAll(before, tcpClient, tcpServer, tcp, client, server, listener);
    }),
);

test(
  "Unix listen with loadBalanced: ours (the shared socket is emulated), its UnixConns ours, on every runtime",
  opts,
  () =>
    inTempDir("own-unix-lb-", async (dir) => {
      const before = ridCount();
      const [listener, client, server] = await unixPair(dir, true);
      await roundTrip(client, server, "ping");
      assert.equal(Object.getPrototypeOf(listener), Listener.prototype);
      assert.equal(Object.getPrototypeOf(server), UnixConn.prototype);
      assert.ok(client instanceof UnixConn);
      // The client's connect shares nothing: Deno's own on Deno.
      assert.equal(
        Object.getPrototypeOf(client) === UnixConn.prototype,
        !onDeno,
      );
      assert.equal(ridCount(), before + (onDeno ? 2 : 3));
      closeAll(before, client, server, listener);
    }),
);

test(
  "listenDatagram: Deno's own DatagramConn with --unstable-net and no reusePort; ours without the flag, with reusePort, and on Node and Bun",
  opts,
  async () => {
    const body = `
      import { DatagramConn, listenDatagram } from "${modUrl}";
      const a = listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
      const b = listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
      const shared = listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0, reusePort: true });
      await b.send(new TextEncoder().encode("ping"), a.addr);
      const [data, from] = await a.receive();
      class MyDatagramConn extends DatagramConn {}
      console.log(JSON.stringify({
        text: new TextDecoder().decode(data),
        fromPort: from.port === b.addr.port,
        ours: Object.getPrototypeOf(a) === DatagramConn.prototype,
        sharedOurs: Object.getPrototypeOf(shared) === DatagramConn.prototype,
        instance: a instanceof DatagramConn && shared instanceof DatagramConn,
        subclass: a instanceof MyDatagramConn,
        lookAlike: ({ addr: a.addr, receive: a.receive }) instanceof DatagramConn,
      }));
      a.close(); b.close(); shared.close();
    `;
    const expected = {
      text: "ping",
      fromPort: true,
      ours: true,
      sharedOurs: true,
      instance: true,
      subclass: false,
      lookAlike: false,
    };
    const plain = await runSnippet(body);
    assert.equal(plain.code, 0, plain.stderr);
    assert.deepEqual(JSON.parse(plain.stdout), expected);
    if (onDeno) {
      const flagged = await runSnippet(body, {}, ["--unstable-net"]);
      assert.equal(flagged.code, 0, flagged.stderr);
      assert.deepEqual(JSON.parse(flagged.stdout), {
        ...expected,
        ours: false,
      });
    }
  },
);
