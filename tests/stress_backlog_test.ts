/**
 * Nobody accepting: thousands of connections to a listener whose owner
 * never calls `accept()`. On Deno they wait in the kernel's accept queue; on
 * Node libuv takes them all and this package holds them as raw handles that
 * read nothing. Either way memory grows by a bounded amount per connection
 * (the bytes the clients send stay in the kernel), and closing the listener
 * releases every one of them.
 *
 * Sizes follow `STRESS_SCALE` (see `_stress.ts`): 5,000 connections at full
 * size.
 */
import { test } from "node:test";
import { connect, listen, type TcpConn } from "../mod.ts";
import {
  baseline,
  budget,
  checkClean,
  deadline,
  delay,
  explainFdExhaustion,
  Figures,
  fitFds,
  isFdExhaustion,
  kernelAcceptQueue,
  kib,
  rss,
  sized,
  somaxconn,
  Tally,
  watchProcess,
} from "./_stress.ts";

/** Each connection holds two fds on Node: the client and the raw handle. */
const CONNECTIONS = fitFds(sized(5_000, 250), 2);
const BACKLOG = Math.min(CONNECTIONS, somaxconn() ?? CONNECTIONS);
const BURST = 250;
/** What each client sends and nobody reads: it must stay in the kernel. */
const SEND_BYTES = 32 * 1024;
/**
 * Resident memory the process may grow by: a fixed allowance for the heap's
 * own growth, and per connection what both ends in this process cost (the
 * client's objects, the held handle), below the 32 KiB each sends. Loose:
 * were the held connections read into memory, the bound would not hold.
 */
const RSS_FIXED = 24 * 1024 * 1024;
const RSS_PER_CONNECTION = 16 * 1024;

test(
  `nobody accepting: ${CONNECTIONS} connections to a listener that never accepts`,
  { timeout: budget(CONNECTIONS, 20) },
  async () => {
    const figures = new Figures("nobody accepting");
    const watch = watchProcess();
    const before = baseline();
    const listener = listen({
      hostname: "127.0.0.1",
      port: 0,
      tcpBacklog: BACKLOG,
    });
    const port = listener.addr.port;
    await delay(200);
    const rssBefore = rss();

    const clients: TcpConn[] = [];
    const connectErrors = new Tally();
    let fdError: unknown;
    const payload = new Uint8Array(SEND_BYTES).fill(7);
    for (let sent = 0; sent < CONNECTIONS; sent += BURST) {
      const width = Math.min(BURST, CONNECTIONS - sent);
      await Promise.all(Array.from({ length: width }, async () => {
        try {
          // A full queue drops the handshake: give up rather than retry.
          const conn = await connect({
            hostname: "127.0.0.1",
            port,
            signal: AbortSignal.timeout(5_000),
          });
          clients.push(conn);
          await conn.write(payload);
        } catch (err) {
          connectErrors.add(err);
          if (isFdExhaustion(err)) fdError = err;
        }
      }));
      if (connectErrors.total > 0) break;
    }
    if (fdError) {
      for (const c of clients) c.close();
      listener.close();
      explainFdExhaustion(fdError);
    }
    await delay(200);
    const grown = rss() - rssBefore;
    const queued = kernelAcceptQueue(port);

    figures.atLeast(
      "connections made",
      clients.length,
      Math.min(CONNECTIONS, BACKLOG),
    );
    figures.check(
      "connect failures",
      connectErrors.toString(),
      "= 0 until the queue is full",
      clients.length >= BACKLOG || connectErrors.total === 0,
    );
    if (queued !== undefined) {
      figures.atMost(
        "waiting in the kernel's accept queue",
        queued,
        BACKLOG + 1,
      );
    }
    const allowed = RSS_FIXED + RSS_PER_CONNECTION * clients.length;
    figures.check(
      "RSS growth while the connections are held",
      `${kib(grown / 1024)} MiB (${
        kib(grown / Math.max(1, clients.length))
      } KiB a connection)`,
      `≤ ${kib(RSS_FIXED / 1024)} MiB + ${kib(RSS_PER_CONNECTION)} KiB each`,
      grown <= allowed,
    );

    // Closing the listener lets every client go: reset or end of stream.
    listener.close();
    const outcomes = new Tally();
    await Promise.all(clients.map(async (conn) => {
      try {
        const got = await deadline(
          conn.read(new Uint8Array(1)),
          20_000,
          "client after the listener closed",
        );
        outcomes.add(got === null ? "EOF" : "data");
      } catch (err) {
        outcomes.add(err);
      } finally {
        conn.close();
      }
    }));
    figures.check(
      "clients told after the listener closed (reset or EOF)",
      outcomes.toString(),
      `= ${clients.length}`,
      outcomes.of("ConnectionReset", "EOF") === clients.length,
    );
    await checkClean(figures, before, watch);
    figures.assertAll();
  },
);
