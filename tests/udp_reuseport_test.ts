/**
 * `reusePort` for UDP, beyond Deno: several sockets on one address, each
 * datagram received by exactly one of them, per strategy. The kernel's
 * (`SO_REUSEPORT`) spreads by flow; the emulated one hands each datagram to
 * the receive that has waited longest, queues a bounded number while nobody
 * waits, and drops (counting) beyond that. Where the kernel strategy does
 * not exist here, forcing it must throw `NotSupported` saying why. Loopback
 * only; every socket is closed by the test that opened it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_DATAGRAM_LIMITS } from "../core/datagram_queue.ts";
import { errors, listenDatagram, setStrategy } from "../mod.ts";
import {
  close,
  datagramStats,
  op_net_listen_udp,
  resources,
  udpStrategyFor,
} from "../ops/mod.ts";
import { runtime } from "../ops/runtime.ts";
import {
  udpFlood,
  udpShare,
  type UdpStrategy,
} from "../tools/udp_balancing.ts";

const opts = { timeout: 60_000 };
const HOST = "127.0.0.1";

/** Whether the kernel strategy exists here for UDP, and why (or why not). */
function kernelHere(): { supported: boolean; reason: string } {
  // What auto picks, whatever REUSEPORT_STRATEGY says.
  setStrategy("auto");
  try {
    const { strategy, reason } = udpStrategyFor({ reusePort: true });
    return { supported: strategy === "kernel", reason };
  } finally {
    setStrategy(undefined);
  }
}

/**
 * Whether this runtime's UDP reads only while a receive waits (Deno's own
 * `Deno.listenDatagram`, with `--unstable-net`), so datagrams nobody asks for
 * wait in the kernel rather than in our queue.
 */
function onDemand(): boolean {
  return runtime().udp?.base === "Deno.listenDatagram";
}

/** Our UDP rids that are open. */
function openUdp(): number {
  return Object.values(resources()).filter((n) => n === "udpSocket").length;
}

for (const strategy of ["emulated", "kernel"] as UdpStrategy[]) {
  test(
    `${strategy}: 4 sockets, 32 flows × 20 datagrams, each received by exactly one socket`,
    opts,
    async (t) => {
      const before = openUdp();
      if (strategy === "kernel" && !kernelHere().supported) {
        setStrategy("kernel");
        try {
          assert.throws(
            () =>
              listenDatagram({
                transport: "udp",
                hostname: HOST,
                port: 0,
                reusePort: true,
              }),
            (err) =>
              err instanceof errors.NotSupported &&
              /the kernel strategy cannot work here/.test(
                (err as Error).message,
              ),
          );
        } finally {
          setStrategy(undefined);
        }
        t.diagnostic(
          `kernel: not here (${kernelHere().reason}); forcing it throws NotSupported`,
        );
        return;
      }
      const share = await udpShare(strategy);
      t.diagnostic(
        `${strategy}: ${share.counts.join(" / ")} (±${
          share.spreadPct.toFixed(1)
        } % of the mean)`,
      );
      assert.equal(
        share.wrong,
        0,
        `${share.wrong} datagrams not received exactly once`,
      );
      assert.equal(share.exactlyOnce, 640);
      assert.equal(share.counts.reduce((a, b) => a + b, 0), 640);
      if (strategy === "emulated") {
        // In turn: every receiver waits again at once, so each gets its share.
        for (const count of share.counts) {
          assert.ok(
            count >= 80,
            `counts ${share.counts.join(", ")}: ${count} < 80`,
          );
        }
      } else {
        // By flow hash: 32 flows miss one of 4 sockets with odds of 1 in 2,500.
        for (const count of share.counts) {
          assert.ok(count > 0, `counts ${share.counts.join(", ")}`);
        }
      }
      assert.equal(openUdp(), before);
    },
  );

  test(
    `${strategy}: a flood of 20,000 datagrams from 16 flows, counted`,
    opts,
    async (t) => {
      if (strategy === "kernel" && !kernelHere().supported) {
        t.diagnostic(`kernel: not here (${kernelHere().reason})`);
        assert.equal(kernelHere().supported, false);
        return;
      }
      const flood = await udpFlood(strategy);
      t.diagnostic(
        `${strategy} flood: sent ${flood.sent} in ${
          flood.ms.toFixed(0)
        } ms, received ${flood.received} (${
          flood.counts.join(" / ")
        }), dropped by the queue ${flood.dropped}, lost in the kernel ${flood.kernelLost}`,
      );
      assert.equal(
        flood.received + flood.dropped + flood.kernelLost,
        flood.sent,
      );
      assert.ok(flood.received > 0);
    },
  );
}

test(
  "emulated: the socket closes with its last member, a member's close interrupts only its own receive",
  opts,
  async () => {
    setStrategy("emulated");
    const a = listenDatagram({
      transport: "udp",
      hostname: HOST,
      port: 0,
      reusePort: true,
    });
    const b = listenDatagram({
      transport: "udp",
      hostname: HOST,
      port: a.addr.port,
      reusePort: true,
    });
    setStrategy(undefined);
    const sender = listenDatagram({
      transport: "udp",
      hostname: HOST,
      port: 0,
    });
    try {
      const aWaits = a.receive();
      const bWaits = b.receive();
      a.close();
      await assert.rejects(aWaits, errors.Interrupted);
      await sender.send(new Uint8Array([7]), b.addr);
      const [data, from] = await bWaits;
      assert.deepEqual([...data], [7]);
      assert.equal(from.port, sender.addr.port);
      // Without reusePort the address is still taken, by b's socket.
      assert.throws(
        () =>
          listenDatagram({
            transport: "udp",
            hostname: HOST,
            port: b.addr.port,
          }),
        errors.AddrInUse,
      );
    } finally {
      b.close();
      sender.close();
    }
  },
);

test(
  "emulated: datagrams wait for a receiver in a bounded queue; beyond it they are dropped and counted",
  opts,
  async () => {
    setStrategy("emulated");
    const [rid, addr] = op_net_listen_udp(
      { hostname: HOST, port: 0 },
      false,
      false,
      true,
    );

    const conn = listenDatagram({
      transport: "udp",
      hostname: HOST,
      port: addr.port,
      reusePort: true,
    });
    setStrategy(undefined);
    const sender = listenDatagram({
      transport: "udp",
      hostname: HOST,
      port: 0,
    });
    try {
      // Nobody receives: the first datagrams wait.
      for (let i = 0; i < 10; i++) await sender.send(new Uint8Array([i]), addr);
      if (onDemand()) {
        // Read only while a receive waits: they wait in the kernel, as with
        // Deno's own, and our queue stays empty.
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.deepEqual(datagramStats(rid), {
          delivered: 0,
          queued: 0,
          dropped: 0,
        });
        for (let i = 0; i < 10; i++) {
          assert.deepEqual([...(await conn.receive())[0]], [i]);
        }
        return;
      }
      const deadline = Date.now() + 5_000;
      while (datagramStats(rid).queued < 10 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.deepEqual(datagramStats(rid), {
        delivered: 0,
        queued: 10,
        dropped: 0,
      });
      for (let i = 0; i < 10; i++) {
        assert.deepEqual([...(await conn.receive())[0]], [i]);
      }
      // More than the queue holds: the rest are dropped, as a full kernel buffer does.
      const limit = DEFAULT_DATAGRAM_LIMITS.datagrams;
      const sent = Math.ceil((limit + 200) / 50) * 50;
      const counted = () =>
        datagramStats(rid).queued + datagramStats(rid).dropped;
      // In batches, each waited for (1 s at most), so that the kernel's own
      // buffer never overflows before ours does.
      for (let i = 0; i < sent; i += 50) {
        await Promise.all(
          Array.from(
            { length: 50 },
            () => sender.send(new Uint8Array(1), addr),
          ),
        );
        const until = Date.now() + 1_000;
        while (counted() < i + 50 && Date.now() < until) {
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      }
      const stats = datagramStats(rid);
      assert.equal(stats.queued, limit);
      assert.ok(
        stats.dropped > 0 && stats.queued + stats.dropped === sent,
        JSON.stringify(stats),
      );
    } finally {
      conn.close();
      sender.close();
      close(rid);
    }
  },
);

test(
  "without reusePort a second socket on the address is refused (direct)",
  opts,
  () => {
    const a = listenDatagram({ transport: "udp", hostname: HOST, port: 0 });
    try {
      assert.throws(
        () =>
          listenDatagram({
            transport: "udp",
            hostname: HOST,
            port: a.addr.port,
          }),
        (err) =>
          err instanceof errors.AddrInUse &&
          (err as Error).message === "Address already in use (os error 98)",
      );
    } finally {
      a.close();
    }
  },
);
