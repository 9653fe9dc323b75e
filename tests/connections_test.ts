/**
 * The `Connections` singleton and the resource table: listeners that share
 * one address, what happens as they come and go, and the rid view.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { connect, errors, listen, type TcpListener } from "../mod.ts";
import {
  close,
  connections,
  op_net_accept_tcp,
  op_net_connect_tcp,
  op_net_listen_tcp,
  resources,
} from "../ops/mod.ts";

/** Accepts on `listener` until it closes; counts connections and closes each. */
function serve(listener: TcpListener): { count: number; done: Promise<void> } {
  const state = { count: 0, done: Promise.resolve() };
  state.done = (async () => {
    for await (const conn of listener) {
      state.count++;
      conn.close();
    }
  })();
  return state;
}

/** Opens `n` connections one after another, each closed once accepted. */
async function connectMany(port: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const conn = await connect({ port });
    // Wait until the server closed it, so the next one finds a waiting listener.
    await conn.read(new Uint8Array(1));
    conn.close();
  }
}

const opts = { timeout: 20_000 };

/** Two `loadBalanced` listeners on one new port. */
function balancedPair(): [TcpListener, TcpListener] {
  const a = listen({ hostname: "127.0.0.1", port: 0, loadBalanced: true });
  const b = listen({
    hostname: "127.0.0.1",
    port: a.addr.port,
    loadBalanced: true,
  });
  return [a, b];
}

for (const mode of ["loadBalanced", "reusePort"] as const) {
  test(`${mode}: two listeners on one address both serve`, opts, async () => {
    const a = listen({ hostname: "127.0.0.1", port: 0, [mode]: true });
    const b = listen({
      hostname: "127.0.0.1",
      port: a.addr.port,
      [mode]: true,
    });
    assert.equal(b.addr.port, a.addr.port);
    const sa = serve(a);
    const sb = serve(b);
    await connectMany(a.addr.port, 40);
    a.close();
    b.close();
    await Promise.all([sa.done, sb.done]);
    assert.equal(sa.count + sb.count, 40);
    assert.ok(sa.count > 0 && sb.count > 0, `spread: ${sa.count}/${sb.count}`);
  });

  test(
    `${mode}: closing one leaves the other serving; the last frees the port`,
    opts,
    async () => {
      const a = listen({ hostname: "127.0.0.1", port: 0, [mode]: true });
      const port = a.addr.port;
      const b = listen({ hostname: "127.0.0.1", port, [mode]: true });
      a.close();
      const sb = serve(b);
      await connectMany(port, 5);
      assert.equal(sb.count, 5);
      b.close();
      await sb.done;
      // The port is free: a plain listener can take it.
      const c = listen({ hostname: "127.0.0.1", port });
      c.close();
    },
  );
}

test(
  "loadBalanced: connections go in turn to the listeners that wait",
  opts,
  async () => {
    const listeners = [
      listen({ hostname: "127.0.0.1", port: 0, loadBalanced: true }),
    ];
    const port = listeners[0].addr.port;
    for (let i = 0; i < 3; i++) {
      listeners.push(
        listen({ hostname: "127.0.0.1", port, loadBalanced: true }),
      );
    }
    const served = listeners.map(serve);
    await connectMany(port, 100);
    for (const l of listeners) l.close();
    await Promise.all(served.map((s) => s.done));
    assert.deepEqual(served.map((s) => s.count), [25, 25, 25, 25]);
  },
);

test(
  "loadBalanced: a connection nobody waited for goes to the next accept, on any listener",
  opts,
  async () => {
    const [a, b] = balancedPair();
    const pending = a.accept();
    const client = await connect({ port: a.addr.port });
    // `a` waited, so `a` gets it; then `a` closes with nothing pending.
    (await pending).close();
    const second = await connect({ port: a.addr.port });
    a.close();
    const conn = await b.accept();
    assert.equal(conn.remoteAddr.port, second.localAddr.port);
    for (const c of [conn, client, second, b]) c.close();
  },
);

test(
  "loadBalanced: closing the listener that waits hands the next connection to a sibling",
  opts,
  async () => {
    const [a, b] = balancedPair();
    const lost = a.accept();
    const kept = b.accept();
    a.close();
    await assert.rejects(lost, errors.BadResource);
    const client = await connect({ port: b.addr.port });
    const conn = await kept;
    assert.equal(conn.remoteAddr.port, client.localAddr.port);
    for (const c of [conn, client, b]) c.close();
  },
);

test("a plain listener does not share: the second bind is AddrInUse", () => {
  const a = listen({ hostname: "127.0.0.1", port: 0, loadBalanced: true });
  assert.throws(
    () => listen({ hostname: "127.0.0.1", port: a.addr.port }),
    errors.AddrInUse,
  );
  a.close();
});

test("Connections holds one socket per shared address and forgets it at the last close", () => {
  const before = connections.size;
  const a = listen({ hostname: "127.0.0.1", port: 0, loadBalanced: true });
  const b = listen({
    hostname: "127.0.0.1",
    port: a.addr.port,
    loadBalanced: true,
  });
  assert.equal(connections.size, before + 1);
  a.close();
  assert.equal(connections.size, before + 1);
  b.close();
  assert.equal(connections.size, before);
});

test("resource table: rids, names, and Bad resource ID", opts, async () => {
  const [lrid, addr] = op_net_listen_tcp({ hostname: "127.0.0.1", port: 0 });
  assert.equal(resources()[lrid], "tcpListener");
  const accepted = op_net_accept_tcp(lrid);
  const [crid] = await op_net_connect_tcp(addr);
  const [srid] = await accepted;
  assert.ok(lrid < crid && crid < srid || lrid < srid, "rids increase");
  assert.equal(resources()[crid], "tcpStream");
  assert.equal(resources()[srid], "tcpStream");
  for (const rid of [crid, srid, lrid]) close(rid);
  for (const rid of [crid, srid, lrid]) {
    assert.equal(resources()[rid], undefined);
  }
  assert.throws(() => close(lrid), {
    name: "BadResource",
    message: "Bad resource ID",
  });
  await assert.rejects(op_net_accept_tcp(crid), {
    name: "BadResource",
    message: "Listener has been closed",
  });
});
