/**
 * A TCP conn's addresses, which it makes only when first asked (an idle
 * conn holds none of its own): `Deno.NetAddr`s with the right values, the
 * same object on every read, and each conn's own, so that writing to one
 * changes neither its listener's address nor another conn's.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { connect, listen } from "../mod.ts";

test("accepted and connected conns report their addresses, made once each", async () => {
  const listener = listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  const clients = [
    await connect({ hostname: "127.0.0.1", port }),
    await connect({ hostname: "127.0.0.1", port }),
  ];
  const servers = [await listener.accept(), await listener.accept()];
  try {
    for (const [i, server] of servers.entries()) {
      assert.deepEqual({ ...server.localAddr }, {
        transport: "tcp",
        hostname: "127.0.0.1",
        port,
      });
      assert.equal(server.remoteAddr.transport, "tcp");
      assert.equal(server.remoteAddr.hostname, "127.0.0.1");
      assert.ok(server.remoteAddr.port > 0);
      assert.equal(server.localAddr, server.localAddr);
      assert.equal(server.remoteAddr, server.remoteAddr);
      // Each server end's peer is one client's local end.
      assert.ok(
        clients.some((c) => c.localAddr.port === server.remoteAddr.port),
        `server ${i} has no client at ${server.remoteAddr.port}`,
      );
    }
    for (const client of clients) {
      assert.deepEqual({ ...client.remoteAddr }, {
        transport: "tcp",
        hostname: "127.0.0.1",
        port,
      });
      assert.equal(client.remoteAddr, client.remoteAddr);
    }
    // The listener's address is shared underneath: a program writing to one
    // conn's address must not reach it or the other conns.
    servers[0].localAddr.port = 1;
    servers[0].remoteAddr.hostname = "10.0.0.1";
    assert.equal(servers[0].localAddr.port, 1);
    assert.equal(servers[1].localAddr.port, port);
    assert.equal(listener.addr.port, port);
    assert.equal(servers[1].remoteAddr.hostname, "127.0.0.1");
    const third = connect({ hostname: "127.0.0.1", port });
    const accepted = await listener.accept();
    (await third).close();
    assert.equal(accepted.localAddr.port, port);
    accepted.close();
  } finally {
    for (const conn of [...clients, ...servers]) conn.close();
    listener.close();
  }
});
