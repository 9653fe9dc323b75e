// A minimal HTTP/1.1 keep-alive responder on @reuseport/net, made to run in
// the parallel runner's workers:
//
//   PORT=8080 node npm/esm/bin.js serve --parallel=2 examples/http_app.mjs
//
// Every answer names the worker that served it: `worker 2 pid 4242`.
// In the runner's workers `listen()` shares the address by default
// (loadBalanced), so every worker listens on the same PORT.
// HOST is the address to listen on (default 127.0.0.1; scripts/hosts.ts gives
// each network namespace's own).
// BURN_MS spends that much CPU per request (scripts/measure.ts uses it).
import process from "node:process";
import { listen } from "../npm/esm/mod.js";

const worker = process.env.REUSEPORT_WORKER ?? "0";
const hostname = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 8080);
const burnMs = Number(process.env.BURN_MS ?? 0);
const encoder = new TextEncoder();
const body = encoder.encode(`worker ${worker} pid ${process.pid}\n`);
const head = encoder.encode(
  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" +
    `Content-Length: ${body.length}\r\n\r\n`,
);
const response = new Uint8Array(head.length + body.length);
response.set(head);
response.set(body, head.length);

/** Connections waiting for their next request: closed when the worker stops. */
const idle = new Set();

function burn() {
  const until = performance.now() + burnMs;
  while (performance.now() < until);
}

async function serve(conn) {
  const buf = new Uint8Array(16 * 1024);
  const decoder = new TextDecoder("latin1");
  let pending = "";
  try {
    while (true) {
      idle.add(conn);
      const n = await conn.read(buf);
      idle.delete(conn);
      if (n === null) break;
      pending += decoder.decode(buf.subarray(0, n));
      // One answer per complete request head; requests carry no body.
      let end;
      let close = false;
      while ((end = pending.indexOf("\r\n\r\n")) >= 0) {
        close ||= /\r\nconnection:\s*close/i.test(pending.slice(0, end));
        pending = pending.slice(end + 4);
        if (burnMs > 0) burn();
        await conn.write(response);
      }
      if (close || stopping) break;
    }
  } catch {
    // The peer reset, or the worker closed an idle connection to stop.
  } finally {
    idle.delete(conn);
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

let stopping = false;
const listener = listen({ hostname, port });
for await (const conn of listener) serve(conn);
// The runner closed the listener: finish, dropping idle keep-alive connections.
stopping = true;
for (const conn of idle) conn.close();
