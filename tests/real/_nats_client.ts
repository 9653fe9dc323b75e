/**
 * A small NATS client in the style of Deno's NATS driver, on the global
 * `Deno` only: the server's `INFO`, the TLS upgrade with `Deno.startTls`
 * when it says `tls_required`, `CONNECT` with user and password, and
 * `PUB` / `SUB` / `MSG` with `PING` / `PONG`.
 *
 * @module
 */
import { api, type Conn, Reader, writeAll } from "./_deno.ts";

/** Credentials, and the CA (PEM) to trust if the server requires TLS. */
export interface NatsOptions {
  user: string;
  password: string;
  caPem?: string;
}

/** A message delivered to a subscription. */
export interface NatsMsg {
  subject: string;
  sid: string;
  data: Uint8Array;
}

/** An `-ERR` line from the server. */
export class NatsError extends Error {
  override name = "NatsError";
}

const encoder = new TextEncoder();

/** A connection to NATS, past `CONNECT`. */
export class NatsClient {
  readonly conn: Conn;
  readonly reader: Reader;
  /** The server's `INFO`. */
  readonly info: Record<string, unknown>;
  /** Whether the connection runs over TLS. */
  readonly tls: boolean;

  private constructor(
    conn: Conn,
    info: Record<string, unknown>,
    tls: boolean,
    reader: Reader,
  ) {
    this.conn = conn;
    this.info = info;
    this.tls = tls;
    this.reader = reader;
  }

  /**
   * Reads `INFO`, upgrades to TLS if the server requires it, sends
   * `CONNECT` and a `PING`, and resolves once the server's `PONG` says it
   * accepted; rejects with a `NatsError` on `-ERR`.
   */
  static async connect(conn: Conn, options: NatsOptions): Promise<NatsClient> {
    try {
      let reader = new Reader(conn);
      const first = await reader.line();
      if (!first.startsWith("INFO ")) {
        throw new Error(`expected INFO, got ${first}`);
      }
      const info = JSON.parse(first.slice(5)) as Record<string, unknown>;
      const tls = info.tls_required === true;
      if (tls) {
        if (reader.buffered) {
          throw new Error("bytes after INFO before the TLS handshake");
        }
        conn = await api("startTls").startTls(conn, {
          hostname: "localhost",
          caCerts: options.caPem === undefined ? undefined : [options.caPem],
        });
        reader = new Reader(conn);
      }
      const client = new NatsClient(conn, info, tls, reader);
      const connect = {
        verbose: false,
        pedantic: false,
        tls_required: tls,
        user: options.user,
        pass: options.password,
        name: "reuseport-real",
        lang: "deno",
        version: "0.0.0",
        protocol: 1,
      };
      await client.send(`CONNECT ${JSON.stringify(connect)}\r\nPING\r\n`);
      for (;;) {
        const line = await reader.line();
        if (line === "PONG") return client;
        if (line.startsWith("-ERR")) throw new NatsError(line.slice(5));
        if (line === "PING") await client.send("PONG\r\n");
      }
    } catch (e) {
      conn.close();
      throw e;
    }
  }

  /** Writes raw protocol text. */
  async send(text: string | Uint8Array): Promise<void> {
    await writeAll(
      this.conn,
      typeof text === "string" ? encoder.encode(text) : text,
    );
  }

  /** `SUB subject sid`. */
  subscribe(subject: string, sid: string): Promise<void> {
    return this.send(`SUB ${subject} ${sid}\r\n`);
  }

  /** Many `PUB`s in one write. */
  publishAll(subject: string, payloads: Uint8Array[]): Promise<void> {
    const parts = payloads.flatMap((p) => [
      encoder.encode(`PUB ${subject} ${p.length}\r\n`),
      p,
      encoder.encode("\r\n"),
    ]);
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return this.send(out);
  }

  /**
   * The next `MSG`, answering the server's `PING`s on the way; `null` on a
   * `PONG` (the answer to a `PING` of ours); `NatsError` on `-ERR`.
   */
  async next(): Promise<NatsMsg | null> {
    for (;;) {
      const line = await this.reader.line();
      if (line.startsWith("MSG ")) {
        const parts = line.split(" ");
        const size = Number(parts[parts.length - 1]);
        const body = await this.reader.exactly(size + 2);
        return {
          subject: parts[1],
          sid: parts[2],
          data: body.subarray(0, size),
        };
      }
      if (line === "PONG") return null;
      if (line === "PING") await this.send("PONG\r\n");
      else if (line.startsWith("-ERR")) throw new NatsError(line.slice(5));
      // +OK and INFO updates need nothing.
    }
  }

  /** Closes the connection. */
  close(): void {
    this.conn.close();
  }
}
