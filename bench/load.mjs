// Load for `npm run bench`, on node:net, in a process of its own:
//   node bench/load.mjs keepalive <port> <connections> <ms>
//     keep-alive HTTP/1.1 (used when `wrk` is not installed): each connection
//     sends one request and waits for its whole response before the next.
//     Prints {"requests": N, "seconds": S}.
//   node bench/load.mjs close <port> <connections> <ms>
//     one request per connection (`Connection: close`), <connections> at a
//     time. Prints {"requests": N, "seconds": S}.
//   node bench/load.mjs bulk <port> <bytes>
//     sends <bytes> to an echo server in 64 KiB chunks while reading them
//     back. Prints {"bytes": N, "seconds": S}.
//   node bench/load.mjs idle <port> <connections>
//     opens the connections, makes one request on each, prints "ready" and
//     holds them open until stdin closes.
import net from "node:net";
import process from "node:process";

const HOST = "127.0.0.1";
const CHUNK = 64 * 1024;
const [mode, ...args] = process.argv.slice(2);
const [port, count, amount] = args.map(Number);

function request(keepAlive) {
  return `GET / HTTP/1.1\r\nHost: ${HOST}\r\n` +
    (keepAlive ? "" : "Connection: close\r\n") + "\r\n";
}

/**
 * Calls `onResponse` for each whole response arriving on `socket`. All
 * responses are alike, so the size is learnt from the first one.
 */
function onResponses(socket, onResponse) {
  let size = 0;
  let seen = 0;
  let head = "";
  socket.on("data", (chunk) => {
    seen += chunk.length;
    if (!size) {
      head += chunk.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      const length = Number(/Content-Length: (\d+)/i.exec(head)?.[1] ?? 0);
      size = end + 4 + length;
    }
    while (seen >= size) {
      seen -= size;
      onResponse();
    }
  });
}

/** Resolves once `socket` is closed; errors end the connection quietly. */
function closed(socket) {
  return new Promise((resolve) => {
    socket.on("error", () => {});
    socket.on("close", resolve);
  });
}

/** Keep-alive: one connection, requests one after another until `deadline`. */
function keepAlive(deadline, counter) {
  const socket = net.connect(port, HOST);
  onResponses(socket, () => {
    counter.requests++;
    if (Date.now() >= deadline) socket.end();
    else socket.write(request(true));
  });
  socket.write(request(true));
  return closed(socket);
}

/** Connection per request: connect, ask, read to the end, again. */
async function oneShots(deadline, counter) {
  while (Date.now() < deadline) {
    const socket = net.connect(port, HOST);
    let answered = false;
    onResponses(socket, () => answered = true);
    socket.write(request(false));
    await closed(socket);
    if (answered) counter.requests++;
  }
}

async function rate(client) {
  const counter = { requests: 0 };
  const start = Date.now();
  const deadline = start + amount;
  await Promise.all(
    Array.from({ length: count }, () => client(deadline, counter)),
  );
  return { requests: counter.requests, seconds: (Date.now() - start) / 1000 };
}

/** Sends `bytes` and reads them back; resolves when all came back. */
function bulk(bytes) {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const socket = net.connect(port, HOST);
    const chunk = Buffer.alloc(CHUNK, 120);
    let sent = 0;
    let received = 0;
    socket.on("error", reject);
    socket.on("data", (data) => {
      received += data.length;
      if (received < bytes) return;
      socket.destroy();
      resolve({ bytes: received, seconds: (Date.now() - start) / 1000 });
    });
    socket.on("close", () => {
      if (received < bytes) {
        reject(
          new Error(`echo server closed after ${received} of ${bytes} bytes`),
        );
      }
    });
    const send = () => {
      while (sent < bytes) {
        const n = Math.min(CHUNK, bytes - sent);
        sent += n;
        if (!socket.write(n === CHUNK ? chunk : chunk.subarray(0, n))) {
          return socket.once("drain", send);
        }
      }
    };
    socket.once("connect", send);
  });
}

/** Opens `n` connections, one request on each, and holds them. */
async function idle(n) {
  const sockets = await Promise.all(
    Array.from({ length: n }, () =>
      new Promise((resolve, reject) => {
        const socket = net.connect(port, HOST);
        socket.once("error", reject);
        onResponses(socket, () => resolve(socket));
        socket.write(request(true));
      })),
  );
  console.log("ready");
  process.stdin.resume();
  process.stdin.on("end", () => {
    for (const socket of sockets) socket.destroy();
  });
}

switch (mode) {
  case "keepalive":
    console.log(JSON.stringify(await rate(keepAlive)));
    break;
  case "close":
    console.log(JSON.stringify(await rate(oneShots)));
    break;
  case "bulk":
    console.log(JSON.stringify(await bulk(count)));
    break;
  case "idle":
    await idle(count);
    break;
  default:
    throw new TypeError(`bench/load.mjs: unknown mode '${mode}'`);
}
