/**
 * A small service for the parallel runner's workers, as users write them: it
 * listens (every worker on one port: `loadBalanced` by default there) and
 * answers each line `INCR <key>` with Redis's answer, through a Redis
 * connection of its own opened at start on the global `Deno`, as
 * `<value> <pid> <threadId>`. When the runner closes its listener (a reload, a stop),
 * it finishes its connections and closes the Redis one, so the worker ends
 * on its own.
 *
 * Environment: `PORT`, and `REAL_CONFIG` (the servers, as for the checks).
 *
 * @module
 */
import "../../polyfill.ts";
import { readFileSync } from "node:fs";
import process from "node:process";
import { threadId } from "node:worker_threads";
import { listen } from "../../mod.ts";
import type { RealConfig } from "./_config.ts";
import { api, type Conn, Reader, writeAll } from "./_deno.ts";
import { RedisClient } from "./_redis_client.ts";

const config: RealConfig = JSON.parse(
  readFileSync(process.env.REAL_CONFIG!, "utf8"),
);
const redis = new RedisClient(
  await api().connect({ hostname: "127.0.0.1", port: config.redis!.port }),
);
await redis.auth(config.redis!.password);

// One Redis connection for the worker: its commands go one at a time.
let queue: Promise<unknown> = Promise.resolve();
function incr(key: string): Promise<unknown> {
  const next = queue.then(() => redis.command("INCR", key));
  queue = next.catch(() => {});
  return next;
}

const encoder = new TextEncoder();

async function serve(conn: Conn): Promise<void> {
  const reader = new Reader(conn);
  try {
    for (;;) {
      let line: string;
      try {
        line = await reader.line();
      } catch {
        return; // the client is done
      }
      const [command, key] = line.split(" ");
      if (command !== "INCR" || !key) {
        await writeAll(conn, encoder.encode(`ERR ${line}\r\n`));
        continue;
      }
      await writeAll(
        conn,
        encoder.encode(`${await incr(key)} ${process.pid} ${threadId}\r\n`),
      );
    }
  } finally {
    conn.close();
  }
}

const listener = listen({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT),
});
const open = new Set<Promise<void>>();
for await (const conn of listener) {
  const done = serve(conn).catch(() => {}).finally(() => open.delete(done));
  open.add(done);
}
await Promise.all(open);
await queue;
redis.close();
