import process from "node:process";
import { listen } from "@reuseport/net";

// Two listeners share one port (PORT, default 8080); connections are spread across them.
let port = Number(process.env.PORT ?? 8080);
for (let i = 0; i < 2; i++) {
  const listener = listen({ hostname: "127.0.0.1", port, reusePort: true });
  port = listener.addr.port; // the real one when PORT is 0
  (async () => {
    for await (const conn of listener) {
      conn.readable.pipeTo(conn.writable).catch(() => {}); // a reset peer is no error here
    }
  })();
}
console.log(`echo server on 127.0.0.1:${port}`);
