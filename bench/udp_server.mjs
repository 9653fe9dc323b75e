// The UDP servers of `npm run bench` (row 7): one file, one receiver per
// API, plain JavaScript so that Node, Deno and Bun run it as it is.
//
//   <runtime> bench/udp_server.mjs <api> <workload> [--module=<path>]
//
// api:      ours   — this package's listenDatagram, imported from --module
//                    (relative to here), receiving with `receive(buf)` in a
//                    loop, as a user of Deno's API writes it
//           dgram  — node:dgram's 'message' events
//           native — Deno.listenDatagram (Deno run with --unstable-net)
//           bun    — Bun.udpSocket's data callback
//           promise — node:dgram behind one promise per `receive(buf)`, the
//                    datagram copied into `buf` and answered as
//                    `[view, { hostname, port, transport }]`: the least any
//                    receive loop of Deno's API shape costs on Node (the
//                    ceiling of row 7's ratio for ours)
// workload: count  — counts what arrives (a StatsD or syslog collector)
//           echo   — sends each datagram back to its sender (a DNS server)
//
// Prints the port as the first line of stdout, then answers lines on stdin
// with one JSON line each, until stdin ends:
//   reset → zeroes the counters, then answers as stats
//   stats → {"requests":[datagrams],"connections":0,"rss":bytes,
//            "first":ms,"last":ms} (`first`, `last`: performance.now() when
//            the first and last datagram since the reset arrived; null
//            before one did)
import process from "node:process";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

const HOST = "127.0.0.1";
/** Room for any datagram the load sends (64 bytes) and then some. */
const BUFFER = 2048;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { module: { type: "string" } },
});
const [api, workload] = positionals;
if (!["ours", "dgram", "native", "bun", "promise"].includes(api)) {
  throw new TypeError(`bench/udp_server.mjs: unknown api '${api}'`);
}
if (!["count", "echo"].includes(workload)) {
  throw new TypeError(`bench/udp_server.mjs: unknown workload '${workload}'`);
}
if (api === "ours" && !values.module) {
  throw new TypeError("bench/udp_server.mjs: api 'ours' needs --module=<path>");
}
const echo = workload === "echo";

let received = 0;
let first = null;
let last = null;

/** One more datagram: counted, with its time. */
function arrived() {
  last = performance.now();
  if (received++ === 0) first = last;
}

/** Listens; resolves the port. */
async function serve() {
  if (api === "dgram") {
    const dgram = await import("node:dgram");
    const socket = dgram.createSocket("udp4");
    await new Promise((resolve) => socket.bind(0, HOST, resolve));
    socket.on("message", (data, rinfo) => {
      arrived();
      if (echo) socket.send(data, rinfo.port, rinfo.address);
    });
    return socket.address().port;
  }
  if (api === "promise") {
    const dgram = await import("node:dgram");
    const socket = dgram.createSocket("udp4");
    await new Promise((resolve) => socket.bind(0, HOST, resolve));
    /** The waiting receive's resolve and buffer; datagrams nobody waited for. */
    let resolve = null;
    let into = null;
    const queued = [];
    const answer = (buf, data, rinfo) => {
      buf.set(data);
      const { address: hostname, port } = rinfo;
      return [buf.subarray(0, data.byteLength), {
        hostname,
        port,
        transport: "udp",
      }];
    };
    socket.on("message", (data, rinfo) => {
      if (!resolve) return void queued.push([data, rinfo]);
      const settle = resolve;
      resolve = null;
      settle(answer(into, data, rinfo));
    });
    const receive = (buf) => {
      if (queued.length > 0) {
        return Promise.resolve(answer(buf, ...queued.shift()));
      }
      into = buf;
      return new Promise((r) => resolve = r);
    };
    const send = (data, from) =>
      new Promise((ok, fail) =>
        socket.send(
          data,
          from.port,
          from.hostname,
          (err, n) => err ? fail(err) : ok(n),
        )
      );
    (async () => {
      const buf = new Uint8Array(BUFFER);
      for (;;) {
        const [data, from] = await receive(buf);
        arrived();
        if (echo) await send(data, from);
      }
    })();
    return socket.address().port;
  }
  if (api === "bun") {
    const socket = await globalThis.Bun.udpSocket({
      hostname: HOST,
      port: 0,
      socket: {
        data(socket, data, port, address) {
          arrived();
          if (echo) socket.send(data, port, address);
        },
      },
    });
    return socket.port;
  }
  const lib = api === "native"
    ? globalThis.Deno
    : await import(new URL(values.module, import.meta.url).href);
  const conn = lib.listenDatagram({
    transport: "udp",
    hostname: HOST,
    port: 0,
  });
  (async () => {
    const buf = new Uint8Array(BUFFER);
    for (;;) {
      const [data, from] = await conn.receive(buf);
      arrived();
      if (echo) await conn.send(data, from);
    }
  })();
  return conn.addr.port;
}

console.log(await serve());
const commands = createInterface({ input: process.stdin });
// The end of stdin ends the server (as a profiler wants it: by exit).
commands.on("close", () => process.exit(0));
commands.on("line", (line) => {
  const command = line.trim();
  if (command === "reset") {
    received = 0;
    first = last = null;
  } else if (command !== "stats") {
    throw new TypeError(`bench/udp_server.mjs: unknown command '${line}'`);
  }
  console.log(JSON.stringify({
    requests: [received],
    connections: 0,
    rss: process.memoryUsage.rss(),
    first,
    last,
  }));
});
