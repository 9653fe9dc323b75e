/**
 * A small Redis client in the style of Deno's Redis drivers, on the global
 * `Deno` only: RESP2 over any `Conn` (TCP, TLS, Unix), `AUTH`, single and
 * pipelined commands (all written at once, the replies read back whatever
 * way the reads split them).
 *
 * @module
 */
import { type Conn, Reader, writeAll } from "./_deno.ts";

/** An error reply (`-ERR ...`), returned in its place rather than thrown. */
export class RedisError extends Error {
  override name = "RedisError";
}

/** A RESP2 reply. */
export type Reply = string | number | Uint8Array | null | RedisError | Reply[];

const encoder = new TextEncoder();

/** One command as RESP: an array of bulk strings. */
export function encodeCommand(args: (string | Uint8Array)[]): Uint8Array {
  const parts: Uint8Array[] = [encoder.encode(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === "string" ? encoder.encode(arg) : arg;
    parts.push(
      encoder.encode(`$${bytes.length}\r\n`),
      bytes,
      encoder.encode("\r\n"),
    );
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A connection to Redis. */
export class RedisClient {
  readonly conn: Conn;
  readonly reader: Reader;

  /** A client over an open connection. */
  constructor(conn: Conn) {
    this.conn = conn;
    this.reader = new Reader(conn);
  }

  /** Sends one command, resolves its reply. */
  async command(...args: (string | Uint8Array)[]): Promise<Reply> {
    await writeAll(this.conn, encodeCommand(args));
    return await this.reply();
  }

  /** Sends every command in one write, then reads their replies in order. */
  async pipeline(commands: (string | Uint8Array)[][]): Promise<Reply[]> {
    const encoded = commands.map(encodeCommand);
    const all = new Uint8Array(encoded.reduce((n, c) => n + c.length, 0));
    let off = 0;
    for (const c of encoded) {
      all.set(c, off);
      off += c.length;
    }
    await writeAll(this.conn, all);
    const replies: Reply[] = [];
    for (let i = 0; i < commands.length; i++) replies.push(await this.reply());
    return replies;
  }

  /** `AUTH password`; throws the error reply if refused. */
  async auth(password: string): Promise<void> {
    const reply = await this.command("AUTH", password);
    if (reply instanceof RedisError) throw reply;
  }

  /** Reads one reply. */
  async reply(): Promise<Reply> {
    const line = await this.reader.line();
    const rest = line.slice(1);
    switch (line[0]) {
      case "+":
        return rest;
      case "-":
        return new RedisError(rest);
      case ":":
        return Number(rest);
      case "$": {
        const n = Number(rest);
        if (n < 0) return null;
        const bytes = await this.reader.exactly(n + 2);
        return bytes.subarray(0, n);
      }
      case "*": {
        const n = Number(rest);
        if (n < 0) return null;
        const items: Reply[] = [];
        for (let i = 0; i < n; i++) items.push(await this.reply());
        return items;
      }
      default:
        throw new Error(`not a RESP reply: ${JSON.stringify(line)}`);
    }
  }

  /** Closes the connection. */
  close(): void {
    this.conn.close();
  }
}

/** A bulk reply as text. */
export function text(reply: Reply): string {
  if (reply instanceof Uint8Array) return new TextDecoder().decode(reply);
  throw new TypeError(`not a bulk string: ${String(reply)}`);
}
