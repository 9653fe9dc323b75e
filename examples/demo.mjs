// `npm start`: two listeners share one port with `reusePort: true`, a client
// opens 200 connections, and each listener reports how many it served.
// Runs on Node against the npm build (`npm start` builds it first).
import process from "node:process";
import { connect, listen } from "../npm/esm/mod.js";

const CONNECTIONS = 200;
const first = listen({ hostname: "127.0.0.1", port: 0, reusePort: true });
const { port } = first.addr;
const listeners = [
  first,
  listen({ hostname: "127.0.0.1", port, reusePort: true }),
];
console.log(
  `Node ${process.version}: 2 listeners on 127.0.0.1:${port} (reusePort)`,
);

const served = listeners.map(() => 0);
const loops = listeners.map(async (listener, i) => {
  for await (const conn of listener) {
    served[i]++;
    const buf = new Uint8Array(64);
    const n = await conn.read(buf);
    await conn.write(
      new TextEncoder().encode(`listener ${i + 1} got ${n} bytes`),
    );
    conn.close();
  }
});

let answered = 0;
for (let i = 0; i < CONNECTIONS; i++) {
  const conn = await connect({ port });
  await conn.write(new TextEncoder().encode(`hello ${i}`));
  if ((await conn.read(new Uint8Array(64))) !== null) answered++;
  conn.close();
}
for (const listener of listeners) listener.close();
await Promise.all(loops);

for (const [i, count] of served.entries()) {
  const bar = "#".repeat(Math.round((count / CONNECTIONS) * 50));
  console.log(`listener ${i + 1}: ${String(count).padStart(4)} ${bar}`);
}
console.log(`${answered} of ${CONNECTIONS} connections answered`);
process.exitCode = answered === CONNECTIONS ? 0 : 1;
