/**
 * Load: many connections in bursts against four listeners on one address,
 * once per way of sharing it (`SHARING_OPTIONS`). Each client sends a unique
 * id and the server echoes it, so every connection is counted where it was
 * accepted: exactly once, none reset, no listener starved.
 *
 * Sizes follow `STRESS_SCALE` (see `_stress.ts`): 10,000 connections in
 * bursts of 500 at full size.
 */
import { test } from "node:test";
import { connect, type TcpConn, type TcpListener } from "../mod.ts";
import {
  baseline,
  budget,
  checkClean,
  deadline,
  explainFdExhaustion,
  Figures,
  fitFds,
  listenAs,
  readFull,
  serveAll,
  sized,
  strategyCases,
  Tally,
  watchProcess,
} from "./_stress.ts";

const CONNECTIONS = sized(10_000, 200);
const LISTENERS = 4;
/** Each connection holds two fds (client and server end) while its burst runs. */
const BURST = fitFds(500, 2);
/** The least share of connections any listener must get: a quarter of a fair share. */
const MIN_SHARE = 1 / (LISTENERS * 4);
const ID_BYTES = 4;

/** Reads the id, records it and echoes it. */
async function echoId(conn: TcpConn, seen: Uint8Array): Promise<void> {
  const id = new Uint8Array(ID_BYTES);
  if (!(await readFull(conn, id))) throw new Error("EOF before the id");
  const n = new DataView(id.buffer).getUint32(0);
  if (n >= seen.length) throw new Error(`id out of range: ${n}`);
  seen[n] = Math.min(255, seen[n] + 1);
  await conn.write(id);
}

/** One client: connect, send the id, expect it back and then end of stream. */
async function client(port: number, id: number, errors: Tally): Promise<void> {
  let conn: TcpConn;
  try {
    conn = await connect({ hostname: "127.0.0.1", port });
  } catch (err) {
    errors.add(err);
    return;
  }
  try {
    const out = new Uint8Array(ID_BYTES);
    new DataView(out.buffer).setUint32(0, id);
    await conn.write(out);
    const back = new Uint8Array(ID_BYTES);
    if (!(await readFull(conn, back))) {
      errors.add(new Error("EOF before the echo"));
    } else if (back.some((b, i) => b !== out[i])) {
      errors.add(new Error(`echo of ${id} came back wrong`));
    } else if ((await conn.read(new Uint8Array(1))) !== null) {
      errors.add(new Error("data after the echo"));
    }
  } catch (err) {
    errors.add(err);
  } finally {
    conn.close();
  }
}

for (const strategy of strategyCases()) {
  const timeout = budget(CONNECTIONS, 10);
  test(
    `load: ${CONNECTIONS} connections in bursts of ${BURST} on ${LISTENERS} listeners, ${strategy.label}`,
    { timeout },
    async () => {
      const figures = new Figures(`load, ${strategy.label}`);
      const watch = watchProcess();
      const before = baseline();
      const listeners: TcpListener[] = [];
      try {
        listeners.push(
          listenAs(strategy, { hostname: "127.0.0.1", port: 0 }),
        );
        const port = listeners[0].addr.port;
        while (listeners.length < LISTENERS) {
          listeners.push(
            listenAs(strategy, { hostname: "127.0.0.1", port }),
          );
        }
      } catch (err) {
        for (const l of listeners) l.close();
        explainFdExhaustion(err);
      }
      const port = listeners[0].addr.port;
      const seen = new Uint8Array(CONNECTIONS);
      const serverErrors = new Tally();
      const clientErrors = new Tally();
      const serving = listeners.map((l) =>
        serveAll(l, serverErrors, (conn) => echoId(conn, seen))
      );

      // Leave a quarter of the test's time for closing and counting.
      const stopAt = Date.now() + timeout * 0.75;
      let sent = 0;
      while (sent < CONNECTIONS && Date.now() < stopAt) {
        const burst = Math.min(BURST, CONNECTIONS - sent);
        const ids = Array.from({ length: burst }, (_, i) => sent + i);
        await Promise.all(ids.map((id) => client(port, id, clientErrors)));
        sent += burst;
      }
      for (const l of listeners) l.close();
      const perListener = await deadline(
        Promise.all(serving),
        10_000,
        "listeners winding down",
      );

      let once = 0;
      let more = 0;
      for (const count of seen) {
        if (count === 1) once++;
        else if (count > 1) more++;
      }
      figures.exactly("connections made", sent, CONNECTIONS);
      figures.exactly("ids accepted exactly once", once, CONNECTIONS);
      figures.exactly("ids accepted more than once", more, 0);
      figures.none("client errors (reset, refused, short)", clientErrors);
      figures.none("server errors", serverErrors);
      const least = Math.min(...perListener);
      figures.check(
        "least-served listener",
        `${least} of ${perListener.join("/")}`,
        `≥ ${Math.ceil(CONNECTIONS * MIN_SHARE)}`,
        least >= CONNECTIONS * MIN_SHARE,
      );
      await checkClean(figures, before, watch);
      figures.assertAll();
    },
  );
}
