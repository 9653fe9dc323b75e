// Keep-alive HTTP/1.1 load for `npm run bench` when `wrk` is not installed:
//   node bench/load.mjs <port> <connections> <milliseconds>
// Each connection sends one request and waits for its whole response before
// the next. Prints {"requests": N, "seconds": S}.
import net from "node:net";
import process from "node:process";

const [port, connections, ms] = process.argv.slice(2).map(Number);
const REQUEST = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
const deadline = Date.now() + ms;
let requests = 0;

function client() {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let responseSize = 0;
    let seen = 0;
    socket.on("data", (chunk) => {
      seen += chunk.length;
      if (!responseSize) {
        // All responses are alike: learn the size from the first one.
        const text = chunk.toString("latin1");
        const end = text.indexOf("\r\n\r\n");
        const length = Number(/Content-Length: (\d+)/i.exec(text)?.[1] ?? 0);
        if (end < 0) return;
        responseSize = end + 4 + length;
      }
      while (seen >= responseSize) {
        seen -= responseSize;
        requests++;
        if (Date.now() >= deadline) return socket.end();
        socket.write(REQUEST);
      }
    });
    socket.on("close", resolve);
    socket.on("error", () => {});
    socket.write(REQUEST);
  });
}

const start = Date.now();
await Promise.all(Array.from({ length: connections }, client));
console.log(JSON.stringify({ requests, seconds: (Date.now() - start) / 1000 }));
