// The UDP load of `npm run bench` (row 7), in a process of its own; plain
// node:dgram, so that the load does not depend on the package it measures.
// Prints one JSON object on stdout.
//
//   node tools/udp_load.mjs --port=N --flood=<datagrams> [--sockets=4]
//   node tools/udp_load.mjs --port=N --echo --seconds=3 [--window=32]
//     [--replies=N]
//
// --flood=N   sends N datagrams of 64 bytes to 127.0.0.1:port as fast as
//             the kernel takes them, round robin over --sockets connected
//             sockets; prints {"sent": N, "seconds": S}
// --echo      request/reply: --window sockets, each with one datagram in
//             flight, sending the next when the answer came back, for
//             --seconds; a datagram not answered within 200 ms counts as
//             lost and is sent again; with --replies, until that many
//             replies came instead. Prints {"replies", "lost", "seconds"}
import dgram from "node:dgram";
import process from "node:process";

const HOST = "127.0.0.1";
const SIZE = 64;
/** Sends per turn of the event loop: the socket's queue drains between. */
const BATCH = 64;
const LOST_MS = 200;

const options = {
  port: 0,
  flood: 0,
  sockets: 4,
  echo: false,
  seconds: 3,
  window: 32,
  replies: 0,
};
for (const arg of process.argv.slice(2)) {
  const [, name, value] = /^--([a-z]+)(?:=(.*))?$/.exec(arg) ?? [];
  if (!(name in options)) {
    console.error(`udp_load.mjs: unknown argument ${arg}`);
    process.exit(2);
  }
  options[name] = typeof options[name] === "boolean" ? true : Number(value);
}
if (!(options.port > 0) || !(options.flood > 0 || options.echo)) {
  console.error("udp_load.mjs: --port=N and --flood=N or --echo are required");
  process.exit(2);
}

/** `n` sockets connected to the server. */
async function sockets(n) {
  return await Promise.all(Array.from({ length: n }, async () => {
    const socket = dgram.createSocket("udp4");
    // A refused datagram (nobody listens yet, or any more) is a lost one.
    socket.on("error", () => {});
    await new Promise((resolve) => socket.connect(options.port, HOST, resolve));
    return socket;
  }));
}

/** Sends `count` datagrams, BATCH at a time, without waiting for each. */
async function flood(count) {
  const all = await sockets(options.sockets);
  const data = Buffer.alloc(SIZE, 120);
  const started = performance.now();
  let sent = 0;
  await new Promise((resolve) => {
    const turn = () => {
      const end = Math.min(count, sent + BATCH);
      for (; sent < end; sent++) all[sent % all.length].send(data);
      if (sent < count) setImmediate(turn);
      // The last sends are out once their socket's queue is empty: a send
      // with a callback after them on each socket says when.
      else {
        let left = all.length;
        for (const s of all) {
          s.send(data.subarray(0, 0), () => --left || resolve());
        }
      }
    };
    turn();
  });
  const seconds = (performance.now() - started) / 1000;
  for (const s of all) s.close();
  return { sent, seconds };
}

/** Request/reply on `window` sockets for `seconds`. */
async function echo(window, seconds) {
  const all = await sockets(window);
  const data = Buffer.alloc(SIZE, 120);
  let replies = 0;
  let lost = 0;
  let running = true;
  const started = performance.now();
  await new Promise((resolve) => {
    const deadline = started + seconds * 1000;
    let open = all.length;
    for (const socket of all) {
      let timer;
      let done = false;
      const send = () => {
        if (done) return;
        if (!running) {
          done = true;
          clearTimeout(timer);
          if (--open === 0) resolve();
          return;
        }
        socket.send(data);
        clearTimeout(timer);
        timer = setTimeout(() => {
          lost++;
          send();
        }, LOST_MS);
      };
      socket.on("message", () => {
        if (++replies === options.replies) running = false;
        send();
      });
      send();
    }
    if (!options.replies) {
      setTimeout(() => running = false, deadline - performance.now());
    }
  });
  const took = (performance.now() - started) / 1000;
  for (const s of all) s.close();
  return { replies, lost, seconds: took };
}

const result = options.echo
  ? await echo(options.window, options.seconds)
  : await flood(options.flood);
console.log(JSON.stringify(result));
