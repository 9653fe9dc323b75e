/**
 * The op layer on a fake runtime (`setRuntime`): what it asks the runtime to
 * bind for each strategy, and how clones share one socket, with no network.
 */
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import {
  close,
  connections,
  op_net_accept_tcp,
  op_net_accept_tls,
  op_net_connect_tcp,
  op_net_listen_tcp,
  op_net_listen_tls,
  op_tls_handshake,
  op_tls_key_null,
  op_tls_key_static,
  op_tls_start,
  resources,
  resourceTable,
} from "../../ops/mod.ts";
import { TlsStreamResource } from "../../ops/ops_tls.ts";
import { setRuntime } from "../../ops/runtime.ts";
import { fakeRuntime, FakeStream, FakeTlsStream, settle } from "./_fakes.ts";

afterEach(() => setRuntime(undefined));

test("ops on a fake runtime: each strategy asks the runtime for the bind it needs", () => {
  const rt = fakeRuntime();
  setRuntime(rt);
  const rids = [
    op_net_listen_tcp({ hostname: "10.0.0.1", port: 0 })[0],
    op_net_listen_tcp({ hostname: "10.0.0.1", port: 81 }, true)[0],
    op_net_listen_tcp({ hostname: "10.0.0.1", port: 82 }, false, true)[0],
  ];
  assert.deepEqual(
    rt.binds.map(({ port, reusePort, shared }) => ({
      port,
      reusePort,
      shared,
    })),
    [
      { port: 0, reusePort: false, shared: false },
      { port: 81, reusePort: true, shared: false },
      { port: 82, reusePort: false, shared: true },
    ],
  );
  assert.equal(rt.binds[0].backlog, 511);
  for (const rid of rids) close(rid);
  assert.ok(rt.listeners.every((l) => l.source.closed));
});

test("ops on a fake runtime: emulated clones share one socket, take turns, and the last one out closes it", async () => {
  const rt = fakeRuntime();
  setRuntime(rt);
  const before = connections.size;
  const [a, addr] = op_net_listen_tcp(
    { hostname: "10.0.0.1", port: 90 },
    false,
    true,
  );
  const [b] = op_net_listen_tcp(addr, false, true);
  assert.equal(
    rt.binds.length,
    1,
    "the second listener joined, it did not bind",
  );
  assert.equal(connections.size, before + 1);
  const source = rt.listeners[0].source;
  const first = op_net_accept_tcp(a);
  const second = op_net_accept_tcp(b);
  source.arrive(new FakeStream(1));
  source.arrive(new FakeStream(2));
  const [[ridA, , remoteA], [ridB, , remoteB]] = await Promise.all([
    first,
    second,
  ]);
  assert.deepEqual([remoteA.port, remoteB.port], [40001, 40002]);
  assert.equal(resources()[ridA], "tcpStream");
  close(a);
  assert.equal(source.closed, false, "a clone is left");
  const pending = op_net_accept_tcp(b);
  await settle();
  close(b);
  assert.equal(source.closed, true);
  await assert.rejects(pending, {
    name: "BadResource",
    message: "Listener has been closed",
  });
  assert.equal(connections.size, before);
  close(ridA);
  close(ridB);
});

const PEM = {
  cert: "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n",
  key: "-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n",
};

test("TLS ops on a fake runtime: a TLS listener binds as a TCP one, shares only with TLS listeners, and wraps what it accepts", async () => {
  const rt = fakeRuntime();
  setRuntime(rt);
  const keys = op_tls_key_static(PEM.cert, PEM.key);
  const [a, addr] = op_net_listen_tls(
    { hostname: "10.0.0.1", port: 95 },
    { loadBalanced: true, alpnProtocols: ["h2", "http/1.1"] },
    keys,
  );
  const [b] = op_net_listen_tls(addr, { loadBalanced: true }, keys);
  // A TCP listener on the address does not join the TLS listeners' socket.
  const [tcp] = op_net_listen_tcp(addr, false, true);
  assert.deepEqual(
    rt.binds.map(({ port, shared }) => ({ port, shared })),
    [{ port: 95, shared: true }, { port: 95, shared: true }],
  );
  const first = op_net_accept_tls(a);
  const second = op_net_accept_tls(b);
  const source = rt.listeners[0].source;
  source.arrive(new FakeStream(1));
  source.arrive(new FakeStream(2));
  const [[ridA], [ridB]] = await Promise.all([first, second]);
  assert.equal(resources()[ridA], "tlsStream");
  const streamA = resourceTable.get(ridA, TlsStreamResource).stream;
  assert.ok(streamA instanceof FakeTlsStream);
  assert.equal(streamA.side, "server");
  assert.deepEqual(await op_tls_handshake(ridA), { alpnProtocol: "h2" });
  for (const rid of [ridA, ridB, a, b, tcp]) close(rid);
  assert.ok(rt.listeners.every((l) => l.source.closed));
});

test("TLS ops on a fake runtime: startTls takes the TCP rid over; a TLS server needs a key pair", async () => {
  const rt = fakeRuntime();
  setRuntime(rt);
  const [tcp] = await op_net_connect_tcp({ hostname: "10.0.0.1", port: 443 });
  const [tls] = await op_tls_start(
    { rid: tcp, hostname: "localhost", caCerts: [], alpnProtocols: ["h2"] },
    op_tls_key_null(),
  );
  assert.equal(resourceTable.has(tcp), false);
  assert.equal(resources()[tls], "tlsStream");
  assert.deepEqual(await op_tls_handshake(tls), { alpnProtocol: "h2" });
  await assert.rejects(
    op_tls_start({ rid: tcp, hostname: "localhost", caCerts: [] }, {}),
    { name: "BadResource" },
  );
  await assert.rejects(
    op_tls_start({ rid: tls, hostname: "bad host!", caCerts: [] }, {}),
    { name: "TypeError", message: "Invalid hostname: 'bad host!'" },
  );
  close(tls);
  assert.throws(
    () => op_net_listen_tls({ hostname: "10.0.0.1", port: 0 }, {}, {}),
    TypeError,
  );
  assert.throws(() => op_tls_key_static("bad", PEM.key), {
    name: "InvalidData",
    message: "No certificates found in certificate data",
  });
  assert.throws(() => op_tls_key_static(PEM.cert, ""), {
    name: "InvalidData",
    message: "No keys found in key data",
  });
  await settle();
});
