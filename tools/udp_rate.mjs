// The UDP receive rate, side by side: one receiver (`--mode=ours`, this
// package's DatagramConn; `dgram`, node:dgram's 'message' events; `deno`,
// native Deno.listenDatagram, which needs --unstable-net) counts what it
// receives while a sender in another process (the system's Node, plain
// node:dgram, 16 sockets, 64 sends in flight) floods it for `--seconds`.
// Prints one JSON object: { mode, received, seconds, perSecond, sent }.
//
//   <runtime> tools/udp_rate.mjs --mode=ours|dgram|deno [--seconds=2] [--mod=<url>]
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import process from "node:process";

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=")),
);
const mode = args.mode ?? "ours";
const seconds = Number(args.seconds ?? 2);

const SENDER = `
const dgram = require("node:dgram");
const [port, seconds] = process.argv.slice(-2).map(Number);
const socks = Array.from({ length: 16 }, () => dgram.createSocket("udp4"));
const data = Buffer.alloc(64);
const end = Date.now() + seconds * 1000;
let sent = 0;
(async () => {
  while (Date.now() < end) {
    await Promise.all(Array.from({ length: 64 }, (_, k) =>
      new Promise((resolve) => socks[k % 16].send(data, port, "127.0.0.1", resolve))));
    sent += 64;
  }
  console.log(sent);
  for (const s of socks) s.close();
})();
`;

let received = 0;
let close;
let port;
if (mode === "dgram") {
  const sock = dgram.createSocket("udp4");
  await new Promise((resolve) => sock.bind(0, "127.0.0.1", resolve));
  sock.on("message", () => received++);
  port = sock.address().port;
  close = () => sock.close();
} else {
  const conn = mode === "deno"
    ? globalThis.Deno.listenDatagram({
      transport: "udp",
      hostname: "127.0.0.1",
      port: 0,
    })
    : (await import(args.mod)).listenDatagram({
      transport: "udp",
      hostname: "127.0.0.1",
      port: 0,
    });
  port = conn.addr.port;
  (async () => {
    const buf = new Uint8Array(2048);
    try {
      while (true) {
        await conn.receive(buf);
        received++;
      }
    } catch { /* closed */ }
  })();
  close = () => conn.close();
}

const sender = spawn("node", ["-e", SENDER, String(port), String(seconds)], {
  stdio: ["ignore", "pipe", "inherit"],
});
let out = "";
sender.stdout.on("data", (chunk) => out += chunk);
const started = performance.now();
await new Promise((resolve) => sender.on("close", resolve));
// What is still in the socket's buffer arrives within moments.
await new Promise((resolve) => setTimeout(resolve, 100));
const elapsed = (performance.now() - started) / 1000;
close();
console.log(JSON.stringify({
  mode,
  received,
  seconds: Number(elapsed.toFixed(2)),
  perSecond: Math.round(received / elapsed),
  sent: Number(out.trim()),
}));
