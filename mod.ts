/**
 * Deno's TCP API — `listen`, `connect`, `Listener`, `TcpConn`, `errors` — with
 * Deno's behaviour on Deno and on Node, and `reusePort` load balancing on
 * every OS.
 *
 * @example A TCP echo server
 * ```ts
 * import { connect, listen } from "@reuseport/net";
 *
 * const listener = listen({ hostname: "127.0.0.1", port: 0 });
 * (async () => {
 *   for await (const conn of listener) conn.readable.pipeTo(conn.writable);
 * })();
 *
 * const client = await connect({ port: listener.addr.port });
 * await client.write(new TextEncoder().encode("ping"));
 * const buf = new Uint8Array(4);
 * await client.read(buf);
 * console.log(new TextDecoder().decode(buf)); // "ping"
 * client.close();
 * listener.close();
 * ```
 *
 * @module
 */
export {
  Conn,
  connect,
  type ConnectOptions,
  listen,
  Listener,
  type NetAddr,
  TcpConn,
  type TcpListener,
  type TcpListenOptions,
} from "./net.ts";
export {
  type ParallelEvent,
  type ParallelMode,
  type ParallelOptions,
  type ParallelServer,
  serveParallel,
  strategyFor,
} from "./parallel.ts";
export {
  setStrategy,
  type Strategy,
  type StrategyChoice,
  type StrategySetting,
} from "./ops/strategy.ts";
export * as errors from "./errors.ts";
