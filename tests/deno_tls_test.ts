/**
 * The TLS behaviours that Deno's own unit tests (`tests/unit/tls_test.ts` in
 * denoland/deno) check on Linux, one test each under the name Deno gives it,
 * written here against the global `Deno` (`Deno.listenTls`,
 * `Deno.connectTls`, `Deno.startTls`); then more of the same API below
 * ("Beyond Deno's file"). Run with `DENO_NET_TEST_NATIVE=1` they check Deno's
 * own TLS, and every test passes there: the tests state Deno's behaviour.
 * Certificates are made at test time (`_certs.ts`); every server is one the
 * test starts on loopback with port 0, in place of Deno's fixed ports, its
 * test_server (4552, 4557) and deno.land.
 *
 * Left out of Deno's file:
 * - `connectTLSNoPerm`: needs Deno's permission sandbox (`NotCapable`
 *   without `--allow-net`), which Node and Bun have no counterpart of.
 * - `listenTlsReusePortDoesNothing`: runs only off Linux.
 * - `startTls` against smtp.gmail.com (ignored by Deno itself, an external
 *   host): here the same STARTTLS dialogue runs against a local plaintext
 *   server that hands the connection over to a `listenTls` server.
 *
 * Messages: asserted exactly where they are Deno's own fixed text; where
 * they come from rustls (certificate verification, alerts, corrupt records)
 * the class and a stable part are asserted, and a comment gives what native
 * Deno 2.9.6 says in full.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  type Conn,
  type Listener,
  listenTls as ourListenTls,
  type NetAddr,
  type TcpConn,
} from "../mod.ts";
import process from "node:process";
import { testCerts } from "./_certs.ts";
import { denoNamespace } from "../platform/deno/_native.ts";
import { onDeno } from "./_child.ts";
import {
  type DenoNet,
  denoTest,
  denoWithOurs,
  execCode,
  execCode2,
  NATIVE_ENV,
  rerunOnDeno,
} from "./_deno_test.ts";

/** What `TlsConn.handshake()` resolves to. */
interface TlsHandshakeInfo {
  alpnProtocol: string | null;
}

/** Deno's `TlsConn`: a connection with `handshake()`. */
type TlsConn = Conn<NetAddr> & {
  handshake(): Promise<TlsHandshakeInfo>;
};

/** Deno's `TlsListener`. */
type TlsListener = Listener<TlsConn, NetAddr>;

/** `Deno.ListenTlsOptions`, as the tests use it. */
interface ListenTlsOptions {
  hostname?: string;
  port?: number;
  cert?: string;
  key?: string;
  alpnProtocols?: string[];
  reusePort?: boolean;
  transport?: "tcp";
}

/** `Deno.ConnectTlsOptions`, as the tests use it. */
interface ConnectTlsOptions {
  hostname?: string;
  port: number;
  caCerts?: string[];
  alpnProtocols?: string[];
  cert?: string;
  key?: string;
  unsafelyDisableHostnameVerification?: boolean;
}

/** `Deno.StartTlsOptions`. */
interface StartTlsOptions {
  hostname?: string;
  caCerts?: string[];
  alpnProtocols?: string[];
  unsafelyDisableHostnameVerification?: boolean;
}

/** The TLS part of the global `Deno`, next to `listen` / `connect`. */
interface DenoTls extends DenoNet {
  listenTls(options: ListenTlsOptions): TlsListener;
  connectTls(options: ConnectTlsOptions): Promise<TlsConn>;
  startTls(conn: TcpConn, options?: StartTlsOptions): Promise<TlsConn>;
}

/** Deno's own `listenTls` (undefined off Deno), before ours is put in place. */
const Deno = denoWithOurs() as unknown as DenoTls;
/** Whether the global `Deno` is Deno's own (its TLS included). */
const native = onDeno && process.env[NATIVE_ENV] === "1";
const certs = testCerts();
const cert = certs.server.cert;
const key = certs.server.key;
const caCerts = [certs.ca.cert];
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Asserts that `err` is a `Deno.errors[name]` with that `name` (and message, if given). */
function assertDenoError(
  err: unknown,
  name: keyof DenoNet["errors"],
  message?: string | RegExp,
): true {
  assert.ok(
    err instanceof Deno.errors[name],
    `expected Deno.errors.${name}, got ${String(err)}`,
  );
  assert.equal((err as Error).name, name);
  if (typeof message === "string") {
    assert.equal((err as Error).message, message);
  } else if (message) assert.match((err as Error).message, message);
  return true;
}

/**
 * What a server sees when its client refuses the certificate. A client on
 * Deno (rustls) says why in an alert: `InvalidData` "received fatal alert:
 * <alert>". One on `node:tls` (Node, Bun) verifies after the handshake and
 * hangs up without an alert: `UnexpectedEof` (a documented difference).
 */
function assertClientRefused(err: unknown, alert: string): true {
  return onDeno
    ? assertDenoError(err, "InvalidData", `received fatal alert: ${alert}`)
    : assertDenoError(err, "UnexpectedEof", "unexpected end of file");
}

/** Resolves with what `promise` rejects with; fails if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail("expected a rejection");
}

/** Deno's `listenTls` helper: a TLS listener on localhost, port 0. */
function listenTls(
  options: ListenTlsOptions = {},
): { listener: TlsListener; port: number; hostname: string } {
  const listener = Deno.listenTls({
    hostname: "localhost",
    port: 0,
    cert,
    key,
    ...options,
  });
  return { listener, port: listener.addr.port, hostname: "localhost" };
}

/** Deno's `listenTcp` helper. */
function listenTcp(): {
  listener: Listener<TcpConn, NetAddr>;
  port: number;
  hostname: string;
} {
  const listener = Deno.listen({ hostname: "localhost", port: 0 });
  return { listener, port: listener.addr.port, hostname: "localhost" };
}

/** Writes all of `data`. */
async function writeAll(conn: Conn<NetAddr>, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length;) {
    off += await conn.write(data.subarray(off));
  }
}

/** Reads to the end of the stream. */
async function readAll(conn: Conn<NetAddr>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(1 << 16);
  for (let n; (n = await conn.read(buf)) !== null;) {
    chunks.push(buf.slice(0, n));
  }
  const all = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let off = 0;
  for (const chunk of chunks) {
    all.set(chunk, off);
    off += chunk.length;
  }
  return all;
}

/** Fills `buf` from `conn`; resolves the bytes read (buf.length). */
async function readFull(conn: Conn<NetAddr>, buf: Uint8Array): Promise<number> {
  let off = 0;
  while (off < buf.length) {
    const n = await conn.read(buf.subarray(off));
    assert.ok(n !== null && n > 0, `end of stream after ${off} bytes`);
    off += n;
  }
  return off;
}

/** Reads until what was read ends with `end`; resolves all of it. */
async function readUntil(conn: Conn<NetAddr>, end: string): Promise<string> {
  const buf = new Uint8Array(4096);
  let got = "";
  while (!got.endsWith(end)) {
    const n = await conn.read(buf);
    if (n === null) {
      throw new Error(`end of stream before ${JSON.stringify(end)}`);
    }
    got += decoder.decode(buf.subarray(0, n));
  }
  return got;
}

const HELLO_RESPONSE =
  "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nHello World\n";

/** Deno's dialAndListenTLS body: a GET answered over TLS. */
async function dialAndListen(
  listener: TlsListener,
  hostname: string,
  port: number,
  client: ConnectTlsOptions,
): Promise<void> {
  const served = listener.accept().then(async (conn) => {
    assert.equal(conn.remoteAddr.transport, "tcp");
    assert.equal(conn.localAddr.port, port);
    assert.equal(conn.remoteAddr.hostname, "127.0.0.1");
    await conn.write(encoder.encode(HELLO_RESPONSE));
    await delay(0);
    conn.close();
  });
  const conn = await Deno.connectTls(client);
  assert.equal(conn.remoteAddr.port, port);
  const request = `GET / HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`;
  assert.equal(await conn.write(encoder.encode(request)), request.length);
  const response = decoder.decode(await readAll(conn));
  const [head, body] = response.split("\r\n\r\n");
  const [status, ...headers] = head.split("\r\n");
  assert.equal(status, "HTTP/1.1 200 OK");
  assert.deepEqual(headers, ["Content-Length: 12"]);
  assert.equal(body, "Hello World\n");
  conn.close();
  listener.close();
  await served;
}

denoTest(async function connectTLSInvalidHost() {
  const err = await rejection(
    Deno.connectTls({ hostname: "256.0.0.0", port: 3567 }),
  );
  assert.ok(err instanceof TypeError);
  assert.equal(err.message, "Invalid hostname: '256.0.0.0'");
});

denoTest(async function startTlsWithoutExclusiveAccessToTcpConn() {
  const { listener, hostname, port } = listenTcp();
  const [serverConn, clientConn] = await Promise.all([
    listener.accept(),
    Deno.connect({ hostname, port }),
  ]);
  const readPromise = clientConn.read(new Uint8Array(128));
  try {
    // A pending read holds the connection: startTls cannot take it over.
    assertDenoError(
      await rejection(Deno.startTls(clientConn, { hostname })),
      "Busy",
      "TCP stream is currently in use",
    );
  } finally {
    serverConn.close();
    listener.close();
  }
  // The pending read goes on and sees the peer's close.
  assert.equal(await readPromise, null);
  // Native Deno took the rid out of the resource table before it found the
  // stream busy, so its close() throws BadResource "Bad resource ID";
  // a conn left usable is closed here.
  try {
    clientConn.close();
  } catch (err) {
    assertDenoError(err, "BadResource", "Bad resource ID");
  }
});

denoTest(async function dialAndListenTLS() {
  const { listener, hostname, port } = listenTls();
  await dialAndListen(listener, hostname, port, { hostname, port, caCerts });
});

denoTest(async function listenTlsWithCertAndKey() {
  // The certificate and key given as PEM text (not files), the EC pair here.
  const { listener, hostname, port } = listenTls({
    cert: certs.ec.cert,
    key: certs.ec.key,
  });
  await dialAndListen(listener, hostname, port, { hostname, port, caCerts });
});

/** A listener serving the self-signed certificate for valid.example.com. */
function selfSignedListener(): { listener: TlsListener; port: number } {
  return listenTls({ cert: certs.selfSigned.cert, key: certs.selfSigned.key });
}

denoTest(async function tlsHostnameVerification() {
  const { listener, port } = selfSignedListener();
  const served = listener.accept().then(async (conn) => {
    assertClientRefused(await rejection(conn.handshake()), "BadCertificate");
    conn.close();
  });
  const conn = await Deno.connectTls({
    hostname: "localhost",
    port,
    caCerts: [certs.selfSigned.cert],
    unsafelyDisableHostnameVerification: false,
  });
  // native: InvalidData 'invalid peer certificate: certificate not valid for
  // name "localhost"; certificate is only valid for
  // DnsName("valid.example.com")'
  assertDenoError(
    await rejection(conn.write(encoder.encode("GET / HTTP/1.1\r\n\r\n"))),
    "InvalidData",
    /certificate not valid for name "localhost"/,
  );
  conn.close();
  listener.close();
  await served;
});

denoTest(async function tlsDisableHostnameVerification() {
  const { listener, port } = selfSignedListener();
  await dialAndListen(listener, "localhost", port, {
    hostname: "localhost",
    port,
    caCerts: [certs.selfSigned.cert],
    unsafelyDisableHostnameVerification: true,
  });
});

/** Deno's tlsPair: a handshaking server and client conn. */
async function tlsPair(): Promise<[TlsConn, TlsConn]> {
  const { listener, hostname, port } = listenTls();
  const pair = await Promise.all([
    listener.accept(),
    Deno.connectTls({ hostname, port, caCerts }),
  ]);
  listener.close();
  return pair;
}

/** Deno's tlsAlpn: server ["deno", "rocks"], client ["rocks", "rises"]. */
async function tlsAlpn(useStartTls: boolean): Promise<[TlsConn, TlsConn]> {
  const { listener, port } = listenTls({ alpnProtocols: ["deno", "rocks"] });
  const options = {
    hostname: "localhost",
    caCerts,
    alpnProtocols: ["rocks", "rises"],
  };
  const client = useStartTls
    ? Deno.connect({ hostname: "localhost", port }).then((tcp) =>
      Deno.startTls(tcp, options)
    )
    : Deno.connectTls({ ...options, port });
  const pair = await Promise.all([listener.accept(), client]);
  listener.close();
  return pair;
}

async function checkAlpn(useStartTls: boolean): Promise<void> {
  const [serverConn, clientConn] = await tlsAlpn(useStartTls);
  const [serverHS, clientHS] = await Promise.all([
    serverConn.handshake(),
    clientConn.handshake(),
  ]);
  assert.equal(serverHS.alpnProtocol, "rocks");
  assert.equal(clientHS.alpnProtocol, "rocks");
  serverConn.close();
  clientConn.close();
}

denoTest(function tlsServerAlpnListenConnect() {
  return checkAlpn(false);
});

denoTest(function tlsServerAlpnListenStartTls() {
  return checkAlpn(true);
});

/** Writes `count` x 42 slowly, half-closes, then reads `count` x 69. */
async function sendThenCloseWriteThenReceive(
  conn: TlsConn,
  chunkCount: number,
  chunkSize: number,
): Promise<void> {
  const total = chunkCount * chunkSize;
  const buf = new Uint8Array(chunkSize).fill(42);
  for (let left = total; left > 0;) {
    const n = await conn.write(buf.subarray(0, left));
    assert.ok(n >= 1);
    left -= n;
    await delay(10);
  }
  await conn.closeWrite();
  for (let left = total; left > 0;) {
    buf.fill(0);
    const n = await conn.read(buf);
    assert.ok(n !== null && n >= 1, `end of stream with ${left} bytes to go`);
    assert.equal(buf[0], 69);
    assert.equal(buf[n - 1], 69);
    left -= n;
  }
  conn.close();
}

/** Reads `count` x 42, then writes `count` x 69 slowly. */
async function receiveThenSend(
  conn: TlsConn,
  chunkCount: number,
  chunkSize: number,
): Promise<void> {
  const total = chunkCount * chunkSize;
  const buf = new Uint8Array(total);
  for (let left = total; left > 0;) {
    buf.fill(0);
    const n = await conn.read(buf);
    assert.ok(n !== null && n >= 1, `end of stream with ${left} bytes to go`);
    assert.equal(buf[0], 42);
    assert.equal(buf[n - 1], 42);
    left -= n;
  }
  buf.fill(69);
  for (let left = total; left > 0;) {
    const n = await conn.write(buf.subarray(0, left));
    assert.ok(n >= 1);
    left -= n;
    await delay(10);
  }
  conn.close();
}

/**
 * A test under Deno's `name`: a fresh TLS pair, with `server` and `client`
 * run on its two ends at once.
 */
function tlsPairTest(
  name: string,
  server: (conn: TlsConn) => Promise<void>,
  client: (conn: TlsConn) => Promise<void>,
  options: { timeout?: number } = {},
): void {
  const named = {
    async [name]() {
      const [serverConn, clientConn] = await tlsPair();
      await Promise.all([server(serverConn), client(clientConn)]);
    },
  };
  denoTest(options, named[name]);
}

for (
  const [size, chunkCount, chunkSize] of [
    ["OneByte", 1, 1],
    ["OneChunk", 1, 1 << 20],
    ["ManyBytes", 100, 1],
    ["ManyChunks", 100, 1 << 16],
  ] as const
) {
  const closer = (conn: TlsConn) =>
    sendThenCloseWriteThenReceive(conn, chunkCount, chunkSize);
  const other = (conn: TlsConn) => receiveThenSend(conn, chunkCount, chunkSize);
  const timeout = { timeout: 30_000 };
  tlsPairTest(`tlsServerStreamHalfCloseSend${size}`, closer, other, timeout);
  tlsPairTest(`tlsClientStreamHalfCloseSend${size}`, other, closer, timeout);
}

const largeAmount = 1 << 20;

/** Sends 1 MB, half-closes and closes: its own pending read is Interrupted. */
async function sendAlotReceiveNothing(conn: TlsConn): Promise<void> {
  const readPromise = conn.read(new Uint8Array(1024));
  await writeAll(conn, new Uint8Array(largeAmount).fill(42));
  await conn.closeWrite();
  conn.close();
  // native: Interrupted "operation canceled"
  assertDenoError(await rejection(readPromise), "Interrupted");
}

/** Reads the 1 MB, then closes without sending anything. */
async function receiveAlotSendNothing(conn: TlsConn): Promise<void> {
  const buf = new Uint8Array(1024);
  for (let got = 0; got < largeAmount;) {
    const n = await conn.read(buf);
    assert.ok(n !== null && n > 0, `end of stream after ${got} bytes`);
    assert.equal(buf[0], 42);
    got += n;
  }
  conn.close();
}

tlsPairTest(
  "tlsServerStreamCancelRead",
  sendAlotReceiveNothing,
  receiveAlotSendNothing,
);

tlsPairTest(
  "tlsClientStreamCancelRead",
  receiveAlotSendNothing,
  sendAlotReceiveNothing,
);

async function sendReceiveEmptyBuf(conn: TlsConn): Promise<void> {
  const byte = new Uint8Array([1]);
  const empty = new Uint8Array(0);
  assert.equal(await conn.write(empty), 0);
  assert.equal(await conn.read(empty), 0);
  assert.equal(await conn.write(byte), 1);
  assert.equal(await conn.read(byte), 1);
  await conn.closeWrite();
  assert.equal(await conn.write(empty), 0);
  assertDenoError(
    await rejection(conn.write(byte)),
    "NotConnected",
    "not connected",
  );
  assert.equal(await conn.write(empty), 0);
  assert.equal(await conn.read(byte), null);
  conn.close();
}

tlsPairTest(
  "tlsStreamSendReceiveEmptyBuf",
  sendReceiveEmptyBuf,
  sendReceiveEmptyBuf,
);

function immediateClose(conn: TlsConn): Promise<void> {
  conn.close();
  return Promise.resolve();
}

async function closeWriteAndClose(conn: TlsConn): Promise<void> {
  await conn.closeWrite();
  assert.equal(await conn.read(new Uint8Array(1)), null);
  conn.close();
}

tlsPairTest(
  "tlsServerStreamImmediateClose",
  immediateClose,
  closeWriteAndClose,
);

tlsPairTest(
  "tlsClientStreamImmediateClose",
  closeWriteAndClose,
  immediateClose,
);

tlsPairTest(
  "tlsClientAndServerStreamImmediateClose",
  immediateClose,
  immediateClose,
);

/** Writes `count` bytes of `byte`, 4 kB at a time. */
async function sendBytes(
  conn: Conn<NetAddr>,
  byte: number,
  count: number,
): Promise<void> {
  const buf = new Uint8Array(1 << 12).fill(byte);
  while (count > 0) {
    const chunk = buf.subarray(0, Math.min(buf.length, count));
    assert.equal(await conn.write(chunk), chunk.length);
    count -= chunk.length;
  }
}

/** Reads `count` bytes, each `byte`. */
async function receiveBytes(
  conn: Conn<NetAddr>,
  byte: number,
  count: number,
): Promise<void> {
  const buf = new Uint8Array(1 << 12);
  while (count > 0) {
    const n = await conn.read(buf.subarray(0, Math.min(buf.length, count)));
    assert.ok(n !== null, `end of stream with ${count} bytes to go`);
    assert.ok(buf.subarray(0, n).every((b) => b === byte));
    count -= n;
  }
}

async function receiveEof(conn: Conn<NetAddr>): Promise<void> {
  assert.equal(await conn.read(new Uint8Array(1)), null);
}

/** A promise and its resolve (Promise.withResolvers is not in Node 20). */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => resolve = r);
  return { promise, resolve };
}

/**
 * Copies up to `count` bytes from `source` to `sink` until the end of
 * `source` or until `interrupt` settles (the read it races is left behind:
 * the conn is closed later).
 */
async function forwardBytes(
  source: Conn<NetAddr>,
  sink: Conn<NetAddr>,
  count: number,
  interrupt: Promise<void>,
): Promise<void> {
  const buf = new Uint8Array(1 << 12);
  const stop = interrupt.then(() => null);
  while (count > 0) {
    const reading = source.read(buf.subarray(0, Math.min(buf.length, count)));
    reading.catch(() => {}); // abandoned on interrupt; its conn closes later
    const n = await Promise.race([reading, stop]);
    if (n === null) break;
    assert.equal(await sink.write(buf.subarray(0, n)), n);
    count -= n;
  }
}

/**
 * Deno's tlsWithTcpFailureTestImpl: a TLS server and client talk through a
 * TCP relay this test runs, which lets `cipherByteCount` bytes of one
 * direction through and then corrupts (16 kB of 0xff) or shuts down (FIN)
 * that direction. `reverse` picks which side is hit: the server (false) or
 * the client (true).
 */
async function tlsWithTcpFailure(
  phase: "handshake" | "traffic",
  cipherByteCount: number,
  failureMode: "corruption" | "shutdown",
  reverse: boolean,
): Promise<void> {
  const tls = listenTls();
  const tcp = listenTcp();
  const [tlsServerConn, tcpServerConn] = await Promise.all([
    tls.listener.accept(),
    Deno.connect({ hostname: tls.hostname, port: tls.port }),
  ]);
  const [tcpClientConn, tlsClientConn] = await Promise.all([
    tcp.listener.accept(),
    Deno.connectTls({ hostname: tcp.hostname, port: tcp.port, caCerts }),
  ]);
  tls.listener.close();
  tcp.listener.close();

  // tlsConn1 is the side hit; tcpConn1 is the relay end that talks to it.
  const [tlsConn1, tlsConn2, tcpConn1, tcpConn2] = reverse
    ? [tlsClientConn, tlsServerConn, tcpClientConn, tcpServerConn]
    : [tlsServerConn, tlsClientConn, tcpServerConn, tcpClientConn];

  const interrupt1 = signal();
  const forward1 = forwardBytes(
    tcpConn2,
    tcpConn1,
    cipherByteCount,
    interrupt1.promise,
  );
  const interrupt2 = signal();
  const forward2 = forwardBytes(
    tcpConn1,
    tcpConn2,
    Infinity,
    interrupt2.promise,
  );

  if (phase === "handshake") {
    // native: corruption is InvalidData (rustls "received corrupt message of
    // type InvalidContentType"), a shutdown UnexpectedEof "unexpected end of
    // file"; the other side, whose relay is shut down after, sees
    // UnexpectedEof too.
    const expected = failureMode === "corruption"
      ? "InvalidData"
      : "UnexpectedEof";
    const traffic1 = Promise.all([
      rejection(sendBytes(tlsConn1, 0x01, 1)),
      rejection(receiveBytes(tlsConn1, 0x02, 1)),
    ]);
    const traffic2 = Promise.all([
      rejection(sendBytes(tlsConn2, 0x02, 1)),
      rejection(receiveBytes(tlsConn2, 0x01, 1)),
    ]);
    await forward1;
    if (failureMode === "corruption") await sendBytes(tcpConn1, 0xff, 1 << 14);
    else await tcpConn1.closeWrite();
    for (const err of await traffic1) assertDenoError(err, expected);
    interrupt2.resolve();
    await forward2;
    await tcpConn2.closeWrite();
    for (const err of await traffic2) {
      assertDenoError(err, "UnexpectedEof", "unexpected end of file");
    }
  } else {
    await Promise.all([
      sendBytes(tlsConn2, 0x88, 8888),
      receiveBytes(tlsConn1, 0x88, 8888),
      sendBytes(tlsConn1, 0x99, 99999),
      receiveBytes(tlsConn2, 0x99, 99999),
    ]);
    interrupt1.resolve();
    await forward1;
    if (failureMode === "corruption") {
      await sendBytes(tcpConn1, 0xff, 1 << 14);
      // native: InvalidData "received corrupt message of type InvalidContentType"
      assertDenoError(await rejection(receiveEof(tlsConn1)), "InvalidData");
      interrupt2.resolve();
    } else {
      await tcpConn1.closeWrite();
      // A FIN without close_notify: a truncation, not the end of the
      // stream. native: UnexpectedEof "peer closed connection without
      // sending TLS close_notify:
      // https://docs.rs/rustls/latest/rustls/manual/_03_howto/index.html#unexpected-eof"
      // `node:tls` (Node, Bun) reads it as the end of the stream, with no
      // way to tell (a documented difference).
      if (onDeno) {
        assertDenoError(
          await rejection(receiveEof(tlsConn1)),
          "UnexpectedEof",
          /close_notify/,
        );
      } else await receiveEof(tlsConn1);
      await tlsConn1.closeWrite();
      await receiveEof(tlsConn2);
    }
    await forward2;
  }
  for (const conn of [tlsServerConn, tlsClientConn]) conn.close();
  for (const conn of [tcpServerConn, tcpClientConn]) conn.close();
}

for (
  const [name, phase, counts, mode] of [
    [
      "tlsHandshakeWithTcpCorruptionImmediately",
      "handshake",
      [0, 0],
      "corruption",
    ],
    ["tlsHandshakeWithTcpShutdownImmediately", "handshake", [0, 0], "shutdown"],
    [
      "tlsHandshakeWithTcpCorruptionAfter70Bytes",
      "handshake",
      [76, 78],
      "corruption",
    ],
    [
      "tlsHandshakeWithTcpShutdownAfter70bytes",
      "handshake",
      [77, 79],
      "shutdown",
    ],
    [
      "tlsHandshakeWithTcpCorruptionAfter200Bytes",
      "handshake",
      [200, 202],
      "corruption",
    ],
    [
      "tlsHandshakeWithTcpShutdownAfter200bytes",
      "handshake",
      [201, 203],
      "shutdown",
    ],
    [
      "tlsTrafficWithTcpCorruption",
      "traffic",
      [Infinity, Infinity],
      "corruption",
    ],
    ["tlsTrafficWithTcpShutdown", "traffic", [Infinity, Infinity], "shutdown"],
  ] as const
) {
  const test = {
    async [name]() {
      await tlsWithTcpFailure(phase, counts[0], mode, false);
      await tlsWithTcpFailure(phase, counts[1], mode, true);
    },
  };
  denoTest(test[name]);
}

/**
 * Runs a command to its end, its stdin at its end from the start; resolves
 * its output, rejects with stderr if it fails.
 */
function run(
  file: string,
  args: string[],
  timeout = 20_000,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout, maxBuffer: 64 << 20, env: { PATH: "/usr/bin:/bin" } },
      (err, stdout, stderr) => {
        if (err) {
          reject(
            new Error(`${file} ${args.join(" ")}: ${err.message}\n${stderr}`),
          );
        } else resolve({ stdout, stderr });
      },
    );
    child.stdin?.end();
  });
}

/**
 * Deno's createHttpsListener: `GET /<filler>/<count>` answers `count` times
 * `filler`. Serves until the listener closes; resolves then.
 */
async function serveFiller(listener: TlsListener): Promise<void> {
  for await (const conn of listener) {
    const request = await readUntil(conn, "\r\n\r\n");
    const { filler, count, version } =
      /^GET \/(?<filler>[^/]+)\/(?<count>\d+) HTTP\/(?<version>1\.\d)\r\n/
        .exec(request)!.groups!;
    const body = encoder.encode(filler.repeat(Number(count)));
    await writeAll(
      conn,
      encoder.encode(
        `HTTP/${version} 200 OK\r\nContent-Length: ${body.length}\r\n` +
          "Content-Type: text/plain\r\n\r\n",
      ),
    );
    await writeAll(conn, body);
    conn.close();
  }
}

denoTest({ timeout: 60_000 }, async function curlFakeHttpsServer() {
  const { listener, port } = listenTls();
  const serving = serveFiller(listener);
  // --cacert, not --insecure: curl verifies the chain and the name.
  const curl = async (path: string) =>
    (await run("curl", [
      "-sS",
      "--cacert",
      certs.ca.certFile,
      `https://localhost:${port}${path}`,
    ])).stdout;
  assert.equal(await curl("/d/1"), "d");
  assert.equal(await curl("/e/12345"), "e".repeat(12345));
  assert.equal(await curl(`/n/${1 << 17}`), "n".repeat(1 << 17));
  const count = 12345678;
  assert.equal(await curl(`/o/${count}`), "o".repeat(count));
  listener.close();
  await serving;
});

/**
 * A plaintext server speaking the start of an SMTP-like STARTTLS dialogue,
 * then relaying the connection to a `listenTls` server: Deno's startTls
 * test, without smtp.gmail.com.
 */
denoTest(async function startTls() {
  const tls = listenTls();
  const plain = listenTcp();
  const tlsServed = tls.listener.accept().then(async (conn) => {
    assert.equal(decoder.decode(await readAll(conn)).trim(), "EHLO localhost");
    conn.close();
  });
  const relayed = plain.listener.accept().then(async (front) => {
    await front.write(encoder.encode("220 localhost ready\r\n"));
    assert.equal(await readUntil(front, "\r\n"), "STARTTLS\r\n");
    await front.write(encoder.encode("220 2.0.0 Ready to start TLS\r\n"));
    const back = await Deno.connect({ hostname: "localhost", port: tls.port });
    // Each direction until its end, which is passed on as a half-close.
    const pump = async (from: TcpConn, to: TcpConn) => {
      const buf = new Uint8Array(4096);
      for (let n; (n = await from.read(buf)) !== null;) {
        await writeAll(to, buf.subarray(0, n));
      }
      await to.closeWrite();
    };
    await Promise.all([pump(front, back), pump(back, front)]);
    front.close();
    back.close();
  });
  const conn = await Deno.connect({ hostname: "localhost", port: plain.port });
  assert.equal(await readUntil(conn, "\r\n"), "220 localhost ready\r\n");
  await conn.write(encoder.encode("STARTTLS\r\n"));
  assert.equal(
    await readUntil(conn, "\r\n"),
    "220 2.0.0 Ready to start TLS\r\n",
  );
  const tlsConn = await Deno.startTls(conn, { hostname: "localhost", caCerts });
  await tlsConn.write(encoder.encode("EHLO localhost\r\n"));
  await tlsConn.closeWrite();
  assert.equal(await tlsConn.read(new Uint8Array(1)), null);
  tlsConn.close();
  await tlsServed;
  await relayed;
  tls.listener.close();
  plain.listener.close();
});

const badCertKeyClient = async (cert: string, key: string) => {
  // A port nobody listens on: the bad certificate or key is found before
  // dialling (native: InvalidData, not ConnectionRefused).
  const { listener, port } = listenTcp();
  listener.close();
  return await rejection(
    Deno.connectTls({ hostname: "localhost", port, cert, key }),
  );
};

denoTest(async function connectTLSBadCertKey() {
  assertDenoError(
    await badCertKeyClient("bad data", certs.client.key),
    "InvalidData",
    "No certificates found in certificate data",
  );
});

denoTest(async function connectTLSBadKey() {
  assertDenoError(
    await badCertKeyClient(certs.client.cert, "bad data"),
    "InvalidData",
    "No keys found in key data",
  );
});

denoTest(async function connectTLSNotKey() {
  assertDenoError(
    await badCertKeyClient(certs.client.cert, ""),
    "InvalidData",
    "No keys found in key data",
  );
});

/** Deno's test_server on 4552/4557: a TLS server that writes "PASS" and closes. */
function passServer(): {
  listener: TlsListener;
  port: number;
  served: Promise<void>;
} {
  const { listener, port } = listenTls();
  const served = listener.accept().then(async (conn) => {
    await conn.write(encoder.encode("PASS"));
    conn.close();
  });
  return { listener, port, served };
}

async function expectPass(
  connecting: Promise<TlsConn>,
  server: ReturnType<typeof passServer>,
): Promise<void> {
  const conn = await connecting;
  assert.equal(decoder.decode(await readAll(conn)), "PASS");
  conn.close();
  await server.served;
  server.listener.close();
}

denoTest(async function connectWithCert() {
  // Deno's listenTls does not ask for a client certificate: what is
  // observable is that a client offering one (cert + key) connects.
  const server = passServer();
  await expectPass(
    Deno.connectTls({
      hostname: "localhost",
      port: server.port,
      cert: certs.client.cert,
      key: certs.client.key,
      caCerts,
    }),
    server,
  );
});

denoTest(async function connectTLSCaCerts() {
  const server = passServer();
  await expectPass(
    Deno.connectTls({ hostname: "localhost", port: server.port, caCerts }),
    server,
  );
});

denoTest(async function startTLSCaCerts() {
  const server = passServer();
  const plain = await Deno.connect({
    hostname: "localhost",
    port: server.port,
  });
  await expectPass(
    Deno.startTls(plain, { hostname: "localhost", caCerts }),
    server,
  );
});

denoTest({ timeout: 30_000 }, async function tlsHandshakeSuccess() {
  const { listener, hostname, port } = listenTls();
  const [conn1, conn2] = await Promise.all([
    listener.accept(),
    Deno.connectTls({ hostname, port, caCerts }),
  ]);
  listener.close();
  await Promise.all([conn1.handshake(), conn2.handshake()]);
  const whole = new Uint8Array(10 << 20).fill(42);
  const sending = writeAll(conn1, whole);
  const half = new Uint8Array(whole.length / 2);
  const receiving = readFull(conn2, half);
  // handshake() again, in the middle of large reads and writes, resolves.
  await conn1.handshake();
  await conn2.handshake();
  assert.equal(await receiving, half.length);
  await conn1.handshake();
  await conn2.handshake();
  assert.equal(await readFull(conn2, half), half.length);
  await sending;
  await conn1.handshake();
  await conn2.handshake();
  await conn1.closeWrite();
  await conn2.closeWrite();
  await conn1.handshake();
  await conn2.handshake();
  conn1.close();
  conn2.close();
});

denoTest(async function tlsHandshakeFailure() {
  /** Accepts one conn: its handshake fails, the same each time it is asked. */
  const serveOne = async (
    listener: TlsListener,
    alert: string,
  ): Promise<void> => {
    const conn = await listener.accept();
    for (let i = 0; i < 10; i++) {
      assertClientRefused(await rejection(conn.handshake()), alert);
    }
    conn.close();
    listener.close();
  };

  // No caCerts: the built-in roots do not know the test CA.
  const first = listenTls();
  await Promise.all([
    serveOne(first.listener, "UnknownCA"),
    (async () => {
      const conn = await Deno.connectTls({
        hostname: first.hostname,
        port: first.port,
      });
      assertDenoError(
        await rejection(conn.handshake()),
        "InvalidData",
        "invalid peer certificate: UnknownIssuer",
      );
      conn.close();
    })(),
  ]);

  // The name asked for is not the certificate's.
  const second = listenTls();
  await Promise.all([
    serveOne(second.listener, "BadCertificate"),
    (async () => {
      const tcp = await Deno.connect({
        hostname: second.hostname,
        port: second.port,
      });
      const conn = await Deno.startTls(tcp, { hostname: "foo.land", caCerts });
      // native: 'invalid peer certificate: certificate not valid for name
      // "foo.land"; certificate is only valid for DnsName("localhost"),
      // IpAddress(127.0.0.1) or IpAddress(0::1)'
      assertDenoError(
        await rejection(conn.handshake()),
        "InvalidData",
        /certificate not valid for name "foo\.land"/,
      );
      conn.close();
    })(),
  ]);
});

/** Connects with the test CA and closes; the listener's side closes too. */
async function connectOnce(listener: TlsListener, port: number): Promise<void> {
  const served = listener.accept().then((conn) => conn.close());
  const conn = await Deno.connectTls({ hostname: "localhost", port, caCerts });
  conn.close();
  await served;
}

denoTest(async function listenTlsWithReuseAddr() {
  const { listener, hostname, port } = listenTls();
  await connectOnce(listener, port);
  listener.close();
  // Again on the port the closed connection left in TIME_WAIT.
  const again = Deno.listenTls({ hostname, port, cert, key });
  await connectOnce(again, port);
  again.close();
});

denoTest(async function listenTlsReusePort() {
  // Deno's own listenTls ends the process on reusePort without
  // --unstable-net (which `deno test tests/` does not pass): fail instead
  // while this package's TLS is not the one in place.
  assert.ok(
    native || Deno.listenTls === (ourListenTls as unknown),
    "the global Deno.listenTls is still Deno's own, not this package's",
  );
  const { listener: listener1, port, hostname } = listenTls({
    reusePort: true,
  });
  const listener2 = Deno.listenTls({
    hostname,
    port,
    cert,
    key,
    reusePort: true,
  });
  const listeners = [listener1, listener2];
  const got = [false, false];
  const accepting = [false, false];
  let accepted = 0;
  let wake = () => {};
  // Bounded: the kernel spreads connections by hash; 200 tries to see both.
  for (let i = 0; i < 200 && !(got[0] && got[1]); i++) {
    for (const j of [0, 1]) {
      if (got[j] || accepting[j]) continue;
      accepting[j] = true;
      listeners[j].accept().then((conn) => {
        conn.close();
        got[j] = true;
        // Closed, the next connections all go to the other one.
        listeners[j].close();
        accepted++;
        wake();
      });
    }
    const before = accepted;
    const conn = await Deno.connectTls({ hostname, port, caCerts });
    conn.close();
    if (accepted === before) await new Promise<void>((r) => wake = r);
  }
  assert.deepEqual(got, [true, true]);
});

denoTest(function listenTlsDoesNotThrowOnStringPort() {
  const listener = Deno.listenTls({
    hostname: "localhost",
    // A string port is outside the types but accepted, as Deno does.
    port: "0" as unknown as number,
    cert,
    key,
  });
  assert.ok(listener.addr.port > 0);
  listener.close();
});

const INVALID_CERT =
  "-----BEGIN CERTIFICATE-----\nINVALID\n-----END CERTIFICATE-----\n";
const INVALID_KEY =
  "-----BEGIN PRIVATE KEY-----\nINVALID\n-----END PRIVATE KEY-----\n";

denoTest(function listenTLSInvalidCert() {
  assert.throws(
    () =>
      Deno.listenTls({
        hostname: "localhost",
        port: 0,
        cert: INVALID_CERT,
        key,
      }),
    (err) =>
      assertDenoError(err, "InvalidData", "Unable to decode certificate"),
  );
});

denoTest(function listenTLSInvalidKey() {
  assert.throws(
    () =>
      Deno.listenTls({
        hostname: "localhost",
        port: 0,
        cert,
        key: INVALID_KEY,
      }),
    (err) => assertDenoError(err, "InvalidData", "Unable to decode key"),
  );
});

denoTest(async function listenTLSEcKey() {
  // The key in SEC1 form ("BEGIN EC PRIVATE KEY"), as Deno's localhost_ecc.key.
  assert.match(certs.ec.key, /^-----BEGIN EC PRIVATE KEY-----/);
  const { listener, port } = listenTls({
    cert: certs.ec.cert,
    key: certs.ec.key,
  });
  await connectOnce(listener, port);
  listener.close();
});

// Beyond Deno's file: more of the same API, as native Deno behaves.

/** Opens TCP connections to `port` that start a TLS handshake and stall. */
async function stalledClients(
  port: number,
  count: number,
  partial: boolean,
): Promise<TcpConn[]> {
  // The first bytes of a ClientHello: a handshake record announcing 512
  // bytes, of which only the start arrives.
  const start = new Uint8Array([
    ...[0x16, 0x03, 0x01, 0x02, 0x00], // record: handshake, TLS 1.0, 512 bytes
    ...[0x01, 0x00, 0x01, 0xfc], // ClientHello, 508 bytes
    ...[0x03, 0x03], // TLS 1.2
    ...new Uint8Array(32).fill(7), // random
  ]);
  const conns: TcpConn[] = [];
  for (let i = 0; i < count; i++) {
    const conn = await Deno.connect({ hostname: "localhost", port });
    if (partial) await conn.write(start);
    conns.push(conn);
  }
  return conns;
}

/** Connects with the test CA; resolves what the server sent before its close. */
async function fetchText(
  port: number,
  hostname = "localhost",
): Promise<string> {
  const conn = await Deno.connectTls({ hostname, port, caCerts });
  try {
    return decoder.decode(await readAll(conn));
  } finally {
    conn.close();
  }
}

/**
 * Serves every conn of `listener` on its own (the handshake, then "PASS");
 * `outcomes` gets, per accepted conn, "PASS" sent or the handshake's error.
 */
function servePass(listener: TlsListener): {
  outcomes: Promise<unknown>[];
  done: Promise<void>;
} {
  const outcomes: Promise<unknown>[] = [];
  const done = (async () => {
    for await (const conn of listener) {
      outcomes.push(
        conn.handshake().then(async () => {
          await conn.write(encoder.encode("PASS"));
          conn.close();
          return "PASS";
        }, (err) => {
          conn.close();
          return err;
        }),
      );
    }
  })();
  return { outcomes, done };
}

/** Waits (bounded) until `check()` holds. */
async function until(
  check: () => boolean,
  what: string,
  ms = 5000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(5);
  }
}

denoTest(async function tlsAcceptBeforeHandshake() {
  const { listener, port } = listenTls();
  const [client] = await stalledClients(port, 1, false);
  // accept() hands out the conn at the TCP accept: no ClientHello has come.
  const conn = await listener.accept();
  assert.equal(conn.remoteAddr.port, client.localAddr.port);
  assert.equal(conn.localAddr.port, port);
  const handshake = rejection(conn.handshake());
  client.close();
  assertDenoError(await handshake, "UnexpectedEof", "unexpected end of file");
  conn.close();
  listener.close();
});

/** Copies `from` to `to` until `from` ends, then ends `to`'s writing. */
async function relay(from: Conn<NetAddr>, to: Conn<NetAddr>): Promise<void> {
  const buf = new Uint8Array(1 << 14);
  try {
    for (let n; (n = await from.read(buf)) !== null;) {
      await writeAll(to, buf.subarray(0, n));
    }
    await to.closeWrite();
  } catch {
    // The other side went first: nothing more to relay.
  }
}

denoTest(async function tlsClientHelloReadBeforeAcceptInPieces() {
  // The ClientHello arrives in two pieces, both before the server accepts:
  // what the listener read ahead starts the handshake.
  const { listener, port } = listenTls();
  const front = Deno.listen({ hostname: "localhost", port: 0 });
  const client = await Deno.connectTls({
    hostname: "localhost",
    port: front.addr.port,
    caCerts,
  });
  const clientHandshake = client.handshake();
  const inbound = await front.accept();
  const outbound = await Deno.connect({ hostname: "localhost", port });
  const hello = new Uint8Array(1 << 14);
  const n = (await inbound.read(hello))!;
  await writeAll(outbound, hello.subarray(0, 3));
  await delay(50);
  await writeAll(outbound, hello.subarray(3, n));
  await delay(50);
  const conn = await listener.accept();
  const relays = [relay(inbound, outbound), relay(outbound, inbound)];
  assert.equal((await conn.handshake()).alpnProtocol, null);
  assert.equal((await clientHandshake).alpnProtocol, null);
  await writeAll(conn, encoder.encode("over TLS"));
  await conn.closeWrite();
  assert.equal(decoder.decode(await readAll(client)), "over TLS");
  client.close();
  assert.equal((await readAll(conn)).length, 0);
  conn.close();
  await Promise.all(relays);
  inbound.close();
  outbound.close();
  front.close();
  listener.close();
});

denoTest(
  { timeout: 30_000 },
  async function tlsStalledHandshakesDoNotDelayOthers() {
    const { listener, port } = listenTls();
    const { outcomes, done } = servePass(listener);
    const stalled = [
      ...await stalledClients(port, 5, false), // connect, send nothing
      ...await stalledClients(port, 5, true), // send part of a ClientHello
    ];
    await until(() => outcomes.length === 10, "the 10 stalled conns accepted");
    const started = performance.now();
    const texts = await Promise.all(
      Array.from({ length: 20 }, () => fetchText(port)),
    );
    const ms = performance.now() - started;
    assert.deepEqual(texts, Array(20).fill("PASS"));
    // Generous for a loaded CI machine; native Deno: ~30 ms here.
    assert.ok(ms < 5000, `20 handshakes took ${ms} ms`);
    console.log(
      `20 TLS clients served in ${ms.toFixed(0)} ms beside 10 stalled`,
    );
    assert.equal(outcomes.length, 30);
    for (const conn of stalled) conn.close();
    const results = await Promise.all(outcomes);
    const errors = results.filter((r) => r !== "PASS");
    assert.equal(errors.length, 10);
    for (const err of errors) {
      assertDenoError(err, "UnexpectedEof", "unexpected end of file");
    }
    listener.close();
    await done;
  },
);

denoTest(async function tlsFailedHandshakeListenerGoesOn() {
  const { listener, port } = listenTls();
  const { outcomes, done } = servePass(listener);
  // A client that does not trust the server's CA.
  const distrust = await Deno.connectTls({
    hostname: "localhost",
    port,
    caCerts: [certs.otherCa.cert],
  });
  assertDenoError(
    await rejection(distrust.handshake()),
    "InvalidData",
    "invalid peer certificate: UnknownIssuer",
  );
  distrust.close();
  // A client that speaks plain HTTP to the TLS port.
  const [garbage] = await stalledClients(port, 1, false);
  await garbage.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  await until(() => outcomes.length === 2, "both conns accepted");
  // The server's side of each: the handshake rejects, with the alert the
  // client sent, or the record it could not parse.
  assertClientRefused(await outcomes[0], "UnknownCA");
  // native: InvalidData "received corrupt message of type InvalidContentType"
  assertDenoError(await outcomes[1], "InvalidData");
  garbage.close();
  // The listener goes on serving.
  assert.equal(await fetchText(port), "PASS");
  assert.equal(await outcomes[2], "PASS");
  listener.close();
  await done;
});

denoTest(async function tlsUnknownCaRejectsReadAndWrite() {
  const { listener, port } = listenTls();
  const { outcomes, done } = servePass(listener);
  for (const use of ["read", "write"] as const) {
    const conn = await Deno.connectTls({
      hostname: "localhost",
      port,
      caCerts: [certs.otherCa.cert],
    });
    const op = use === "read"
      ? conn.read(new Uint8Array(16))
      : conn.write(new Uint8Array(16));
    assertDenoError(
      await rejection(op),
      "InvalidData",
      "invalid peer certificate: UnknownIssuer",
    );
    conn.close();
  }
  await until(() => outcomes.length === 2, "both conns accepted");
  for (const outcome of await Promise.all(outcomes)) {
    assertClientRefused(outcome, "UnknownCA");
  }
  listener.close();
  await done;
});

denoTest(async function tlsExpiredCertificate() {
  const { listener, port } = listenTls({
    cert: certs.expired.cert,
    key: certs.expired.key,
  });
  const { outcomes, done } = servePass(listener);
  const conn = await Deno.connectTls({ hostname: "localhost", port, caCerts });
  // native: InvalidData "invalid peer certificate: certificate expired:
  // verification time 1796595211 (UNIX), but certificate is not valid after
  // 978307200 (818288011 seconds ago)"
  assertDenoError(
    await rejection(conn.handshake()),
    "InvalidData",
    /^invalid peer certificate: certificate expired/,
  );
  conn.close();
  await until(() => outcomes.length === 1, "the conn accepted");
  assertClientRefused(await outcomes[0], "CertificateExpired");
  listener.close();
  await done;
});

denoTest(async function tlsIpAddressVerification() {
  // The server certificate names 127.0.0.1: dialling the IP verifies.
  const { listener, port } = listenTls();
  const { done } = servePass(listener);
  assert.equal(await fetchText(port, "127.0.0.1"), "PASS");
  listener.close();
  await done;
  // The self-signed one names valid.example.com only.
  const self = selfSignedListener();
  const served = servePass(self.listener);
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: self.port,
    caCerts: [certs.selfSigned.cert],
  });
  // native: InvalidData 'invalid peer certificate: certificate not valid for
  // name "127.0.0.1"; certificate is only valid for DnsName("valid.example.com")'
  assertDenoError(
    await rejection(conn.handshake()),
    "InvalidData",
    /certificate not valid for name "127\.0\.0\.1"/,
  );
  conn.close();
  await until(() => served.outcomes.length === 1, "the conn accepted");
  assertClientRefused(await served.outcomes[0], "BadCertificate");
  self.listener.close();
  await served.done;
});

denoTest(async function tlsPeerGoneMidHandshake() {
  // The server's side: the client goes away before (nothing sent) or in
  // the middle of (part of a ClientHello sent) its ClientHello.
  const { listener, port } = listenTls();
  const { outcomes, done } = servePass(listener);
  for (const partial of [false, true]) {
    const [client] = await stalledClients(port, 1, partial);
    await until(() => outcomes.length === Number(partial) + 1, "the accept");
    client.close();
  }
  for (const outcome of await Promise.all(outcomes)) {
    assertDenoError(outcome, "UnexpectedEof", "unexpected end of file");
  }
  listener.close();
  await done;

  // The client's side: the server takes the TCP connection and closes it
  // without reading the ClientHello (a reset on Linux: native Deno says
  // UnexpectedEof all the same), or after reading it.
  const tcp = listenTcp();
  for (const readFirst of [false, true]) {
    const connecting = Deno.connectTls({
      hostname: "localhost",
      port: tcp.port,
      caCerts,
    });
    const server = await tcp.listener.accept();
    const client = await connecting;
    const handshake = rejection(client.handshake());
    if (readFirst) await server.read(new Uint8Array(4096));
    else await delay(50);
    server.close();
    assertDenoError(await handshake, "UnexpectedEof", "unexpected end of file");
    // And so does every later read.
    assertDenoError(
      await rejection(client.read(new Uint8Array(1))),
      "UnexpectedEof",
      "unexpected end of file",
    );
    client.close();
  }
  tcp.listener.close();
});

denoTest(async function tlsBadResourceAfterClose() {
  const [serverConn, clientConn] = await tlsPair();
  await Promise.all([serverConn.handshake(), clientConn.handshake()]);
  clientConn.close();
  const bad = (err: unknown) =>
    assertDenoError(err, "BadResource", "Bad resource ID");
  bad(await rejection(clientConn.read(new Uint8Array(1))));
  bad(await rejection(clientConn.write(new Uint8Array(1))));
  bad(await rejection(clientConn.closeWrite()));
  // native: BadResource "Listener has been closed" (sic, for a conn)
  assertDenoError(await rejection(clientConn.handshake()), "BadResource");
  assert.throws(() => clientConn.close(), bad);
  // The server's side sees the client's close as the end of the stream.
  assert.equal(await serverConn.read(new Uint8Array(1)), null);
  serverConn.close();
});

denoTest(async function tlsListenerCloseWhileAccept() {
  const { listener } = listenTls();
  const first = rejection(listener.accept());
  // One accept at a time, as Deno.listen.
  assertDenoError(
    await rejection(listener.accept()),
    "Busy",
    "Another accept task is ongoing",
  );
  listener.close();
  assertDenoError(await first, "BadResource", "Listener has been closed");
  assertDenoError(
    await rejection(listener.accept()),
    "BadResource",
    "Listener has been closed",
  );
  assert.throws(
    () => listener.close(),
    (err) => assertDenoError(err, "BadResource", "Bad resource ID"),
  );
});

denoTest(async function tlsListenerAndConnDispose() {
  const { listener, port } = listenTls();
  assert.equal(typeof listener[Symbol.dispose], "function");
  const [serverConn, clientConn] = await Promise.all([
    listener.accept(),
    Deno.connectTls({ hostname: "localhost", port, caCerts }),
  ]);
  listener[Symbol.dispose]();
  assertDenoError(
    await rejection(listener.accept()),
    "BadResource",
    "Listener has been closed",
  );
  await Promise.all([serverConn.handshake(), clientConn.handshake()]);
  clientConn[Symbol.dispose]();
  assertDenoError(
    await rejection(clientConn.read(new Uint8Array(1))),
    "BadResource",
    "Bad resource ID",
  );
  assert.equal(await serverConn.read(new Uint8Array(1)), null);
  serverConn[Symbol.dispose]();
});

denoTest(async function tlsListenerAsyncIterator() {
  const { listener, port } = listenTls();
  let served = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      await conn.write(encoder.encode("PASS"));
      conn.close();
      if (++served === 3) break;
    }
  })();
  for (let i = 0; i < 3; i++) assert.equal(await fetchText(port), "PASS");
  await serving;
  assert.equal(served, 3);
  // Leaving the loop closed the listener.
  assert.throws(() => listener.close(), Deno.errors.BadResource);
  // And a closed listener's iterator is done.
  assert.deepEqual(await listener[Symbol.asyncIterator]().next(), {
    value: undefined,
    done: true,
  });
});

denoTest(function tlsListenerAddr() {
  const { listener, port } = listenTls();
  assert.deepEqual({ ...listener.addr }, {
    transport: "tcp",
    hostname: "127.0.0.1",
    port,
  });
  listener.close();
  const any = Deno.listenTls({ port: 0, cert, key });
  assert.equal(any.addr.hostname, "0.0.0.0");
  any.close();
});

denoTest(async function tlsOptionErrors() {
  assert.throws(
    () => Deno.listenTls({ port: 0 }),
    (err) => {
      assert.ok(err instanceof TypeError);
      assert.equal(
        err.message,
        "A key and certificate are required for `Deno.listenTls`",
      );
      return true;
    },
  );
  assert.throws(
    () =>
      Deno.listenTls({
        port: 0,
        cert,
        key,
        transport: "udp" as unknown as "tcp",
      }),
    (err) => {
      assert.ok(err instanceof TypeError);
      assert.equal(err.message, "Unsupported transport: 'udp'");
      return true;
    },
  );
  assert.throws(
    () => Deno.listenTls({ hostname: "localhost", port: 0, cert: "", key }),
    (err) =>
      assertDenoError(
        err,
        "InvalidData",
        "No certificates found in certificate data",
      ),
  );
  assert.throws(
    () => Deno.listenTls({ hostname: "localhost", port: 0, cert, key: "" }),
    (err) => assertDenoError(err, "InvalidData", "No keys found in key data"),
  );
  // A key that is not the certificate's: refused at listen, not at the
  // first handshake. native: Error "keys may not be consistent: KeyMismatch"
  // (a plain Error, no Deno.errors class).
  assert.throws(
    () =>
      Deno.listenTls({
        hostname: "localhost",
        port: 0,
        cert,
        key: certs.ec.key,
      }),
    Error,
  );
  const { listener, port } = listenTls();
  assert.throws(
    () => Deno.listenTls({ hostname: "localhost", port, cert, key }),
    (err) => assertDenoError(err, "AddrInUse"),
  );
  listener.close();
  const err = await rejection(
    Deno.connectTls({
      hostname: "localhost",
      port: 1,
      cert: certs.client.cert,
    }),
  );
  assert.ok(err instanceof TypeError);
  assert.equal(
    (err as Error).message,
    "If `cert` is specified, `key` must be specified as well for `Deno.connectTls`",
  );
});

/** Answers one HTTP/2 request with 200 "ok": the least curl accepts. */
async function answerHttp2(conn: TlsConn): Promise<void> {
  // The client preface, then frames until the request's HEADERS frame.
  let got = new Uint8Array(0);
  const buf = new Uint8Array(4096);
  const headersSeen = () => {
    for (let off = 24; off + 9 <= got.length;) {
      const length = (got[off] << 16) | (got[off + 1] << 8) | got[off + 2];
      if (got[off + 3] === 0x1) return true;
      off += 9 + length;
    }
    return false;
  };
  while (!headersSeen()) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("end of stream before the request");
    got = new Uint8Array([...got, ...buf.subarray(0, n)]);
  }
  assert.equal(
    decoder.decode(got.subarray(0, 24)),
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
  );
  const frame = (
    type: number,
    flags: number,
    stream: number,
    payload: number[],
  ) => [
    0,
    0,
    payload.length,
    type,
    flags,
    0,
    0,
    0,
    stream,
    ...payload,
  ];
  await writeAll(
    conn,
    new Uint8Array([
      ...frame(0x4, 0x0, 0, []), // SETTINGS
      ...frame(0x4, 0x1, 0, []), // SETTINGS ACK
      ...frame(0x1, 0x4, 1, [0x88]), // HEADERS, END_HEADERS: ":status: 200"
      ...frame(0x0, 0x1, 1, [0x6f, 0x6b]), // DATA, END_STREAM: "ok"
    ]),
  );
}

/**
 * Serves `listener`: per conn, records the protocol the handshake agreed on
 * and answers over it (`h2`, HTTP/1.1, or for `drain` only reads to the end).
 */
function serveAlpn(listener: TlsListener, drain = false): {
  protocols: (string | null)[];
  done: Promise<void>;
} {
  const protocols: (string | null)[] = [];
  const done = (async () => {
    for await (const conn of listener) {
      const { alpnProtocol } = await conn.handshake();
      protocols.push(alpnProtocol);
      if (drain) {
        // openssl s_client ends without close_notify: rustls calls it
        // UnexpectedEof; either way the conversation is over.
      } else if (alpnProtocol === "h2") await answerHttp2(conn);
      else {
        await readUntil(conn, "\r\n\r\n");
        await writeAll(
          conn,
          encoder.encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        );
      }
      await readAll(conn).catch(() => {});
      conn.close();
    }
  })();
  return { protocols, done };
}

denoTest(async function tlsAlpnServerPreference() {
  const { listener, port } = listenTls({ alpnProtocols: ["h2", "http/1.1"] });
  const handshakes = async (alpnProtocols?: string[]) => {
    const [server, client] = await Promise.all([
      listener.accept(),
      Deno.connectTls({ hostname: "localhost", port, caCerts, alpnProtocols }),
    ]);
    const infos = await Promise.all([server.handshake(), client.handshake()]);
    server.close();
    client.close();
    return infos.map((info) => info.alpnProtocol);
  };
  // The server's order decides, not the client's.
  assert.deepEqual(await handshakes(["http/1.1", "h2"]), ["h2", "h2"]);
  assert.deepEqual(await handshakes(["http/1.1"]), ["http/1.1", "http/1.1"]);
  // No ALPN from the client: none agreed, null on both sides.
  assert.deepEqual(await handshakes(), [null, null]);
  // Nothing in common: the server refuses the handshake.
  const [server, client] = await Promise.all([
    listener.accept(),
    Deno.connectTls({
      hostname: "localhost",
      port,
      caCerts,
      alpnProtocols: ["foo"],
    }),
  ]);
  const [serverErr, clientErr] = await Promise.all([
    rejection(server.handshake()),
    rejection(client.handshake()),
  ]);
  // native: InvalidData "peer doesn't support any known protocol"
  assertDenoError(serverErr, "InvalidData");
  assertDenoError(
    clientErr,
    "InvalidData",
    "received fatal alert: NoApplicationProtocol",
  );
  server.close();
  client.close();
  listener.close();
});

denoTest({ timeout: 30_000 }, async function tlsAlpnWithCurl() {
  const { listener, port } = listenTls({ alpnProtocols: ["h2", "http/1.1"] });
  const { protocols, done } = serveAlpn(listener);
  const curl = async (version: string) =>
    (await run("curl", [
      "-sS",
      version,
      "--cacert",
      certs.ca.certFile,
      "-w",
      " %{http_version}",
      `https://localhost:${port}/`,
    ])).stdout;
  assert.equal(await curl("--http2"), "ok 2");
  assert.equal(await curl("--http1.1"), "ok 1.1");
  assert.deepEqual(protocols, ["h2", "http/1.1"]);
  listener.close();
  await done;
});

denoTest({ timeout: 30_000 }, async function tlsAlpnWithOpensslClient() {
  const { listener, port } = listenTls({ alpnProtocols: ["h2", "http/1.1"] });
  const { protocols, done } = serveAlpn(listener, true);
  const { stdout } = await run("openssl", [
    "s_client",
    "-connect",
    `127.0.0.1:${port}`,
    "-servername",
    "localhost",
    "-CAfile",
    certs.ca.certFile,
    "-verify_return_error",
    "-alpn",
    "h2,http/1.1",
  ]);
  assert.match(stdout, /^ALPN protocol: h2$/m);
  assert.match(stdout, /Verify return code: 0 \(ok\)/);
  assert.deepEqual(protocols, ["h2"]);
  listener.close();
  await done;
});

/** Cert and key as the source of a child program's constants. */
const childCerts = `const cert = ${JSON.stringify(cert)};
const key = ${JSON.stringify(key)};`;

/** A program whose listener is unref'd while an `accept()` is pending. */
const unrefAccepting = `${childCerts}
    async function main() {
      const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
      listener.unref();
      console.log("accepting");
      await listener.accept(); // does not keep the program alive
      throw new Error("not reached");
    }
    main();
  `;

if (onDeno) {
  // On Deno this package's TLS listener is Deno's own (for its speed), so it
  // has Deno's limitation, a documented difference (README): Deno 2.9.6's
  // TlsListener.accept() (ext/net/02_tls.js) skips the unref that
  // Listener.accept() does. Asserted, so a Deno that fixes it fails here and
  // the README row goes.
  denoTest(async function tlsListenerUnrefPendingAcceptHoldsOnDeno() {
    const { code, stdout } = await execCode(unrefAccepting, 3_000);
    assert.equal(stdout, "accepting\n");
    assert.equal(code, -1, "the child ended on its own: Deno unrefs now");
  });
} else {
  denoTest(async function tlsListenerUnref() {
    const { code, stderr } = await execCode(unrefAccepting);
    assert.equal(code, 0, stderr);
  });
}

denoTest(async function tlsListenerUnrefAndRef() {
  const child = execCode2(`${childCerts}
    const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
    listener.unref();
    listener.ref(); // keeps the program alive again
    console.log("started " + listener.addr.port);
    const conn = await listener.accept();
    console.log("accepted");
    await conn.handshake().catch((err) => console.log(err.name));
    conn.close();
    listener.close();
  `);
  const out = await child.waitStdoutText("started");
  const port = Number(/started (\d+)/.exec(out)![1]);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await child.waitStdoutText("accepted");
  conn.close();
  const { code, stdout, stderr } = await child.finished();
  assert.equal(code, 0, stderr);
  assert.equal(stdout.trim(), `started ${port}\naccepted\nUnexpectedEof`);
});

denoTest(async function tlsConnUnref() {
  const { listener, port } = listenTls();
  // This process stays alive; the child must exit on its own.
  const keepAlive = setInterval(() => {}, 1000);
  const program = execCode(`
    async function main() {
      const conn = await Deno.connectTls({
        hostname: "localhost",
        port: ${port},
        caCerts: [${JSON.stringify(certs.ca.cert)}],
      });
      await conn.handshake();
      conn.unref();
      await conn.read(new Uint8Array(10)); // the program exits here
      throw new Error("not reached");
    }
    main();
  `);
  const conn = await listener.accept();
  await conn.handshake();
  const { code, stderr } = await program;
  conn.close();
  listener.close();
  clearInterval(keepAlive);
  assert.equal(code, 0, stderr);
});

if (onDeno && !native) {
  denoTest(async function nativeStartTlsTakesOurTcpConn() {
    // Deno's own `startTls`, as a program kept it from before the override:
    // it reads Deno's internal rid, which this package's `TcpConn` carries.
    const nativeStartTls = denoNamespace()!.startTls as unknown as (
      conn: unknown,
      options: { hostname: string; caCerts: string[] },
    ) => Promise<TlsConn>;
    const { listener, port } = listenTls();
    const served = listener.accept().then(async (conn) => {
      const buf = new Uint8Array(8);
      const n = await conn.read(buf);
      await conn.write(buf.subarray(0, n!));
      conn.close();
    });
    const tcp = await Deno.connect({ hostname: "localhost", port });
    const tls = await nativeStartTls(tcp, { hostname: "localhost", caCerts });
    await tls.write(encoder.encode("ping"));
    const buf = new Uint8Array(8);
    assert.equal(await tls.read(buf), 4);
    assert.equal(decoder.decode(buf.subarray(0, 4)), "ping");
    // As after Deno's own: the TCP conn is gone.
    assert.throws(() => tcp.close(), Deno.errors.BadResource);
    tls.close();
    await served;
    listener.close();
  });

  rerunOnDeno(
    "these tests pass on native Deno too (Deno's own TLS)",
    import.meta.url,
    { [NATIVE_ENV]: "1" },
    120_000,
  );
}
