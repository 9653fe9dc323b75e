/**
 * `tools/load.mjs --tls --resume`, the load of the TLS instruction counts
 * (`bench/instructions.mjs tls-resume`), against ours and the runtime's
 * `node:tls` server: each connection offers the session of the one before,
 * and both servers resume it alike, so a bench that resumes (as wrk does)
 * compares like with like.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import * as tls from "node:tls";
import { listenTls } from "../mod.ts";
import { LOAD_NODE, runLoad } from "../tools/balancing.ts";
import { removeTestCerts, testCerts } from "./_certs.ts";

after(removeTestCerts);

const RESPONSE = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" +
  "Connection: close\r\n\r\nhi";
const CONNECTIONS = 6;

/** `CONNECTIONS` one after another, each resuming the last session. */
async function resumedLoad(
  port: number,
): Promise<{ requests: number; resumed: number; failed: number }> {
  const result = await runLoad(LOAD_NODE, {
    port,
    tls: true,
    resume: true,
    close: true,
    connections: CONNECTIONS,
    concurrency: 1,
    seconds: 60,
    timeout: 10_000,
  });
  return result as unknown as {
    requests: number;
    resumed: number;
    failed: number;
  };
}

/** Serves `CONNECTIONS` connections with `listenTls`: one answer each, then closes. */
function serveOurs(): { port: number; done: Promise<void> } {
  const { cert, key } = testCerts().server;
  const listener = listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  const done = (async () => {
    try {
      for (let i = 0; i < CONNECTIONS; i++) {
        const conn = await listener.accept();
        const buf = new Uint8Array(4096);
        let seen = "";
        while (!seen.includes("\r\n\r\n")) {
          const n = await conn.read(buf);
          if (n === null) break;
          seen += new TextDecoder().decode(buf.subarray(0, n));
        }
        await conn.write(new TextEncoder().encode(RESPONSE));
        conn.close();
      }
    } finally {
      listener.close();
    }
  })();
  return { port: listener.addr.port, done };
}

test("tools/load.mjs --tls --resume: listenTls resumes each offered session, as node:tls's server does", async () => {
  const ours = serveOurs();
  const oursLoad = await resumedLoad(ours.port);
  await ours.done;

  const { cert, key } = testCerts().server;
  const server = tls.createServer({ cert, key }, (socket) => {
    socket.on("error", () => socket.destroy());
    socket.on("data", () => socket.end(RESPONSE));
  });
  await new Promise<void>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve())
  );
  const { port } = server.address() as { port: number };
  let peerLoad;
  try {
    peerLoad = await resumedLoad(port);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }

  assert.equal(oursLoad.failed, 0);
  assert.equal(oursLoad.requests, CONNECTIONS);
  assert.equal(peerLoad.requests, CONNECTIONS);
  // Every connection after the first resumed, on both sides alike.
  assert.equal(oursLoad.resumed, peerLoad.resumed);
  assert.equal(oursLoad.resumed, CONNECTIONS - 1);
});
