// A minimal HTTP/1.1 keep-alive responder, one implementation per API, for
// `npm run bench`. Plain JavaScript so that Node runs it as is and Deno too.
//   node bench/server.mjs ours ./npm/esm/mod.js   — this package on Node
//   node bench/server.mjs raw                     — node:net on Node
//   deno run -A bench/server.mjs ours ../mod.ts   — this package on Deno
//   deno run -A bench/server.mjs native           — Deno.listen
// Prints the port on stdout, then serves until killed.
import process from "node:process";

const BODY = "Hello, World!";
const RESPONSE = new TextEncoder().encode(
  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" +
    `Content-Length: ${BODY.length}\r\nConnection: keep-alive\r\n\r\n${BODY}`,
);

/** Counts requests (ends of headers, `\r\n\r\n`) across chunk boundaries. */
function requestCounter() {
  let state = 0; // how much of "\r\n\r\n" was seen at the end of the last chunk
  return (bytes, length) => {
    let requests = 0;
    for (let i = 0; i < length; i++) {
      const b = bytes[i];
      if (b === 13) state = state === 2 ? 3 : 1;
      else if (b === 10 && (state === 1 || state === 3)) {
        if (state === 3) {
          requests++;
          state = 0;
        } else state = 2;
      } else state = 0;
    }
    return requests;
  };
}

function responses(n) {
  if (n === 1) return RESPONSE;
  const out = new Uint8Array(RESPONSE.length * n);
  for (let i = 0; i < n; i++) out.set(RESPONSE, i * RESPONSE.length);
  return out;
}

/** For `Deno.listen` and this package: the same code on both. */
async function serveDenoShaped(listener) {
  for await (const conn of listener) {
    (async () => {
      const count = requestCounter();
      const buf = new Uint8Array(64 * 1024);
      try {
        for (;;) {
          const n = await conn.read(buf);
          if (n === null) break;
          const requests = count(buf, n);
          if (requests > 0) await conn.write(responses(requests));
        }
      } catch {
        // The load generator hung up.
      }
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    })();
  }
}

const [impl, modulePath] = process.argv.slice(2);
if (impl === "raw") {
  const net = await import("node:net");
  const server = net.createServer((socket) => {
    const count = requestCounter();
    socket.on("data", (chunk) => {
      const requests = count(chunk, chunk.length);
      if (requests > 0) socket.write(responses(requests));
    });
    socket.on("error", () => socket.destroy());
  });
  server.listen(0, "127.0.0.1", () => console.log(server.address().port));
} else {
  const api = impl === "native"
    ? globalThis.Deno
    : await import(new URL(modulePath, import.meta.url).href);
  const listener = api.listen({ hostname: "127.0.0.1", port: 0 });
  console.log(listener.addr.port);
  await serveDenoShaped(listener);
}
