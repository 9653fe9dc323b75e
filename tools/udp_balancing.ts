/**
 * UDP `reusePort` measurements shared by `tests/udp_reuseport_test.ts` and
 * `scripts/measure_udp.ts`: how 4 sockets on one address split the
 * datagrams of many flows while they wait (each datagram must reach exactly
 * one), and what a flood costs per strategy (lost in the kernel, dropped by
 * the emulated queue); and the same across worker threads and the runner's
 * processes, asked of workers that answer (`udpAsk`, `udpFloodAnswered`,
 * used by `tests/udp_sharing_test.ts`). Loopback only.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { isNativeDeno } from "../core/detect.ts";
import {
  close,
  datagramStats,
  op_net_listen_udp,
  op_net_recv_udp,
} from "../ops/mod.ts";
import { type DatagramConn, listenDatagram, setStrategy } from "../mod.ts";

/** The strategies that let several UDP sockets share one address. */
export type UdpStrategy = "kernel" | "emulated";

const HOST = "127.0.0.1";

/** How a run split the datagrams. */
export interface UdpShare {
  /** Datagrams each receiver got. */
  counts: number[];
  /** Ids received exactly once. */
  exactlyOnce: number;
  /** Ids received more than once, or never. */
  wrong: number;
  /** Largest distance of a receiver's count from the mean, in % of it. */
  spreadPct: number;
}

/** What a flood cost. */
export interface UdpFlood {
  /** Datagrams sent. */
  sent: number;
  /** Datagrams received, by all receivers. */
  received: number;
  /** Dropped by the emulated queue (full while nobody received). */
  dropped: number;
  /** Lost before reaching us: the kernel's full receive buffers. */
  kernelLost: number;
  /** Datagrams each receiver got. */
  counts: number[];
  /** Milliseconds the flood took to send. */
  ms: number;
}

/**
 * 4 (or `n`) sockets on one address under `strategy`, as rids (the ops'
 * view, whose figures `datagramStats` reads), and their receive loops.
 */
function receivers(strategy: UdpStrategy, n: number): {
  socks: number[];
  port: number;
  counts: number[];
  ids: Map<number, number>;
  loops: Promise<void>[];
} {
  setStrategy(strategy);
  const socks: number[] = [];
  let port = 0;
  try {
    while (socks.length < n) {
      const [rid, addr] = op_net_listen_udp(
        { hostname: HOST, port },
        false,
        false,
        true,
      );
      socks.push(rid);
      port = addr.port;
    }
  } catch (err) {
    for (const rid of socks) close(rid);
    throw err;
  } finally {
    setStrategy(undefined);
  }
  const counts = socks.map(() => 0);
  const ids = new Map<number, number>();
  const loops = socks.map(async (rid, i) => {
    const buf = new Uint8Array(64);
    const view = new DataView(buf.buffer);
    while (true) {
      try {
        await op_net_recv_udp(rid, buf);
      } catch {
        return; // closed
      }
      counts[i]++;
      const id = view.getUint32(0);
      ids.set(id, (ids.get(id) ?? 0) + 1);
    }
  });
  return { socks, port, counts, ids, loops };
}

/** Resolves once `done()` holds, or after `ms` (whichever first), checking every 2 ms. */
async function until(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function datagram(id: number): Uint8Array {
  const data = new Uint8Array(8);
  new DataView(data.buffer).setUint32(0, id);
  return data;
}

/**
 * `flows` senders (one socket each, so one flow each) send `perFlow`
 * datagrams each, in rounds, to 4 sockets that wait in `receive()`; each
 * round waits until its datagrams arrived (5 s at most), so that no kernel
 * buffer overflows and every datagram must arrive exactly once.
 */
export async function udpShare(
  strategy: UdpStrategy,
  flows = 32,
  perFlow = 20,
  n = 4,
): Promise<UdpShare> {
  const { socks, port, counts, ids, loops } = receivers(strategy, n);
  const senders: DatagramConn[] = [];
  try {
    for (let f = 0; f < flows; f++) {
      senders.push(
        listenDatagram({ transport: "udp", hostname: HOST, port: 0 }),
      );
    }
    let id = 0;
    for (let round = 0; round < perFlow; round++) {
      await Promise.all(
        senders.map((s) => s.send(datagram(id++), { hostname: HOST, port })),
      );
      await until(() => ids.size >= id, 5_000);
    }
    const total = flows * perFlow;
    let exactlyOnce = 0;
    for (let i = 0; i < total; i++) if (ids.get(i) === 1) exactlyOnce++;
    const mean = total / n;
    return {
      counts: [...counts],
      exactlyOnce,
      wrong: total - exactlyOnce +
        [...ids.keys()].filter((k) => k >= total).length,
      spreadPct: Math.max(...counts.map((c) => Math.abs(c - mean))) / mean *
        100,
    };
  } finally {
    for (const s of senders) s.close();
    for (const rid of socks) close(rid);
    await Promise.all(loops);
  }
}

/**
 * A sender in a child process of this runtime: `flows` sockets send `total`
 * numbered datagrams to `port` as fast as they can (64 in flight), then it
 * prints the milliseconds that took. Another process, so that the
 * receivers here do not wait for the sender's turn on one event loop.
 */
const SENDER = `
import dgram from "node:dgram";
const [port, total, flows] = process.argv.slice(-3).map(Number);
const socks = Array.from({ length: flows }, () => dgram.createSocket("udp4"));
const started = performance.now();
for (let id = 0; id < total; id += 64) {
  await Promise.all(Array.from({ length: Math.min(64, total - id) }, (_, k) => {
    const data = Buffer.alloc(8);
    data.writeUInt32BE(id + k);
    return new Promise((resolve) => socks[(id + k) % flows].send(data, port, "127.0.0.1", resolve));
  }));
}
console.log(performance.now() - started);
for (const s of socks) s.close();
`;

/** Runs `source` in a child process of this runtime to its end; resolves its stdout. */
async function runScript(source: string, args: number[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "reuseport-udp-flood-"));
  const file = join(dir, "sender.mjs");
  writeFileSync(file, source);
  try {
    const run = isNativeDeno() ? ["run", "-A", file] : [file];
    return await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        [...run, ...args.map(String)],
        { timeout: 60_000 },
        (err, stdout) => err ? reject(err) : resolve(stdout),
      );
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the sender to its end; resolves the milliseconds it took to send. */
async function sendFromChild(
  port: number,
  total: number,
  flows: number,
): Promise<number> {
  return Number((await runScript(SENDER, [port, total, flows])).trim());
}

/**
 * A sender in another process sends `total` datagrams over `flows` flows as
 * fast as it can, to 4 sockets here that receive as fast as they can; then
 * counts what arrived, what the emulated queue dropped and what the kernel
 * lost.
 */
export async function udpFlood(
  strategy: UdpStrategy,
  total = 20_000,
  flows = 16,
  n = 4,
): Promise<UdpFlood> {
  const { socks, port, counts, loops } = receivers(strategy, n);
  try {
    const ms = await sendFromChild(port, total, flows);

    // Whatever is still on its way arrives within moments, or never.
    let last = -1;
    await until(() => {
      const now = counts.reduce((a, b) => a + b, 0);
      const settled = now === last;
      last = now;
      return settled || now >= total;
    }, 2_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const received = counts.reduce((a, b) => a + b, 0);
    // The emulated sockets share one queue: its figures count once.
    const dropped = strategy === "emulated"
      ? datagramStats(socks[0]).dropped
      : socks.reduce((sum, rid) => sum + datagramStats(rid).dropped, 0);
    return {
      sent: total,
      received,
      dropped,
      kernelLost: Math.max(0, total - received - dropped),
      counts: [...counts],
      ms,
    };
  } finally {
    for (const rid of socks) close(rid);
    await Promise.all(loops);
  }
}

/** How the datagrams sent to a shared address were answered. */
export interface UdpAnswers {
  /** Datagrams sent. */
  sent: number;
  /** Answers by the id of the worker that received the datagram. */
  counts: Record<string, number>;
  /** Datagrams answered exactly once. */
  exactlyOnce: number;
  /** Datagrams answered more than once, or never. */
  wrong: number;
  /** Answers that came from another port than the one asked. */
  otherSource: number;
}

/**
 * `flows` client sockets (one flow each) send `perFlow` numbered datagrams
 * each to `port`, where workers running `tests/fixtures/udp_app.mjs`
 * answer each with their id in front; each round waits until its answers
 * arrived (`roundMs` at most), so that no buffer overflows and every
 * datagram must be answered exactly once, from the port it was sent to.
 */
export async function udpAsk(
  port: number,
  flows = 32,
  perFlow = 20,
  roundMs = 5_000,
): Promise<UdpAnswers> {
  const clients: DatagramConn[] = [];
  const answers = new Map<number, number>();
  const counts: Record<string, number> = {};
  let otherSource = 0;
  let extra = 0;
  const total = flows * perFlow;
  try {
    for (let f = 0; f < flows; f++) {
      clients.push(
        listenDatagram({ transport: "udp", hostname: HOST, port: 0 }),
      );
    }
    const loops = clients.map(async (client) => {
      for await (const [data, from] of client) {
        if (from.port !== port) otherSource++;
        if (data.byteLength !== 9) {
          extra++;
          continue;
        }
        const id = new DataView(data.buffer, data.byteOffset + 1).getUint32(0);
        answers.set(id, (answers.get(id) ?? 0) + 1);
        counts[data[0]] = (counts[data[0]] ?? 0) + 1;
      }
    });
    let id = 0;
    for (let round = 0; round < perFlow; round++) {
      await Promise.all(
        clients.map((c) => c.send(datagram(id++), { hostname: HOST, port })),
      );
      await until(() => answers.size >= id, roundMs);
    }
    // An answer sent twice would come within moments of the first.
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (const client of clients) client.close();
    await Promise.all(loops);
    let exactlyOnce = 0;
    for (let i = 0; i < total; i++) if (answers.get(i) === 1) exactlyOnce++;
    return {
      sent: total,
      counts,
      exactlyOnce,
      wrong: total - exactlyOnce + extra +
        [...answers.keys()].filter((k) => k >= total).length,
      otherSource,
    };
  } finally {
    for (const client of clients) {
      try {
        client.close();
      } catch {
        // Closed above.
      }
    }
  }
}

/**
 * A child process of this runtime sends `total` numbered datagrams over
 * `flows` flows as fast as it can (64 in flight) to `port`, reads what the
 * workers of `tests/fixtures/udp_app.mjs` answer, and prints the send time
 * and the answers by worker once they stop coming (300 ms without one).
 */
const ASKER = `
import dgram from "node:dgram";
const [port, total, flows] = process.argv.slice(-3).map(Number);
const counts = {};
let answered = 0;
let last = performance.now();
const socks = Array.from({ length: flows }, () => {
  const s = dgram.createSocket("udp4");
  s.on("message", (m) => {
    answered++;
    counts[m[0]] = (counts[m[0]] ?? 0) + 1;
    last = performance.now();
  });
  return s;
});
const started = performance.now();
for (let id = 0; id < total; id += 64) {
  await Promise.all(Array.from({ length: Math.min(64, total - id) }, (_, k) => {
    const data = Buffer.alloc(8);
    data.writeUInt32BE(id + k);
    return new Promise((resolve) => socks[(id + k) % flows].send(data, port, "127.0.0.1", resolve));
  }));
  // Sends complete without a turn of the event loop: let the answers in.
  await new Promise((resolve) => setImmediate(resolve));
}
const ms = performance.now() - started;
last = performance.now();
while (performance.now() - last < 300 && answered < total) {
  await new Promise((resolve) => setTimeout(resolve, 20));
}
console.log(JSON.stringify({ ms, answered, counts }));
for (const s of socks) s.close();
`;

/** What a flood of a shared address cost, seen from the sender. */
export interface UdpAnsweredFlood {
  /** Datagrams sent. */
  sent: number;
  /** Datagrams answered, by all workers. */
  answered: number;
  /** Answers by worker id. */
  counts: Record<string, number>;
  /** Milliseconds the flood took to send. */
  ms: number;
}

/**
 * Floods `port`, where workers of `tests/fixtures/udp_app.mjs` answer,
 * with `total` datagrams over `flows` flows from another process; what is
 * not answered was lost on the way (the kernel's buffers, or a full queue
 * of the socket's owner) or on the way back.
 */
export async function udpFloodAnswered(
  port: number,
  total = 20_000,
  flows = 16,
): Promise<UdpAnsweredFlood> {
  const seen = JSON.parse(
    (await runScript(ASKER, [port, total, flows])).trim(),
  );
  return { sent: total, ...seen };
}
