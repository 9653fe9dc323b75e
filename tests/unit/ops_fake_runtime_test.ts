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
  op_net_listen_tcp,
  resources,
} from "../../ops/mod.ts";
import { setRuntime } from "../../ops/runtime.ts";
import { fakeRuntime, FakeStream, settle } from "./_fakes.ts";

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
