/**
 * A small MariaDB / MySQL client in the style of Deno's MySQL drivers, on the
 * global `Deno` only: the server's handshake, the SSL request then
 * `Deno.startTls`, `mysql_native_password` (with `node:crypto`), and text
 * queries (`COM_QUERY`) whose rows may span any number of reads.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { api, type Conn, Reader, writeAll } from "./_deno.ts";

/** Where and as whom to connect. */
export interface MariaOptions {
  user: string;
  password: string;
  /** The CA (PEM) to trust; with it, the client asks for TLS. */
  caPem?: string;
}

/** An ERR packet from the server. */
export class MariaError extends Error {
  override name = "MariaError";
  readonly code: number;
  /** An error with the server's code and message. */
  constructor(code: number, message: string) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

/** What a text query returned. */
export interface MariaResult {
  rows: (string | null)[][];
  /** Rows changed, for statements that return no rows. */
  affected: number;
}

// Capability flags (MySQL's CLIENT_*).
const LONG_PASSWORD = 0x1;
const PROTOCOL_41 = 0x200;
const SSL = 0x800;
const TRANSACTIONS = 0x2000;
const SECURE_CONNECTION = 0x8000;
const PLUGIN_AUTH = 0x80000;

const UTF8MB4 = 45;
const MAX_PACKET = 16 * 1024 * 1024;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** `mysql_native_password`: SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))). */
function nativePassword(password: string, scramble: Uint8Array): Uint8Array {
  if (!password) return new Uint8Array(0);
  const sha1 = (...parts: Uint8Array[]) => {
    const h = createHash("sha1");
    for (const p of parts) h.update(p);
    return new Uint8Array(h.digest());
  };
  const one = sha1(encoder.encode(password));
  const mix = sha1(scramble, sha1(one));
  return one.map((b, i) => b ^ mix[i]);
}

/** A length-encoded integer at `off`: its value (null for 0xfb, SQL NULL) and its size. */
function lenenc(buf: Uint8Array, off: number): [number | null, number] {
  const first = buf[off];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  if (first < 0xfb) return [first, 1];
  if (first === 0xfb) return [null, 1];
  if (first === 0xfc) return [view.getUint16(off + 1, true), 3];
  if (first === 0xfd) return [view.getUint32(off + 1, true) & 0xffffff, 4];
  return [Number(view.getBigUint64(off + 1, true)), 9];
}

/** A connection to MariaDB, past authentication. */
export class MariaClient {
  readonly conn: Conn;
  readonly reader: Reader;
  /** Whether the connection runs over TLS. */
  readonly tls: boolean;
  /** The server's id of this connection (for `KILL`). */
  readonly connectionId: number;

  private constructor(
    conn: Conn,
    reader: Reader,
    tls: boolean,
    id: number,
  ) {
    this.conn = conn;
    this.reader = reader;
    this.tls = tls;
    this.connectionId = id;
  }

  /** Reads the handshake, upgrades to TLS if `caPem` is given, and authenticates. */
  static async connect(
    conn: Conn,
    options: MariaOptions,
  ): Promise<MariaClient> {
    try {
      let reader = new Reader(conn);
      const { payload: hello, seq } = await readPacket(reader);
      if (hello[0] === 0xff) throw errorOf(hello);
      if (hello[0] !== 10) {
        throw new Error(`handshake version ${hello[0]} is not 10`);
      }
      let off = hello.indexOf(0, 1) + 1; // after the server's version
      const view = new DataView(hello.buffer, hello.byteOffset, hello.length);
      const id = view.getUint32(off, true);
      off += 4;
      const part1 = hello.subarray(off, off + 8);
      off += 9;
      const serverCaps = view.getUint16(off, true) |
        (view.getUint16(off + 5, true) << 16);
      off += 2 + 1 + 2 + 2;
      const dataLength = hello[off];
      off += 1 + 10;
      const part2 = hello.subarray(off, off + Math.max(12, dataLength - 9));
      let scramble = Uint8Array.from([...part1, ...part2]);

      let caps = LONG_PASSWORD | PROTOCOL_41 | TRANSACTIONS |
        SECURE_CONNECTION | PLUGIN_AUTH;
      let next = seq + 1;
      let tls = false;
      if (options.caPem !== undefined) {
        if (!(serverCaps & SSL)) throw new Error("the server offers no TLS");
        caps |= SSL;
        await writeAll(conn, packet(next++, head(caps)));
        conn = await api("startTls").startTls(conn, {
          hostname: "localhost",
          caCerts: [options.caPem],
        });
        reader = new Reader(conn);
        tls = true;
      }
      const auth = nativePassword(options.password, scramble);
      await writeAll(
        conn,
        packet(
          next++,
          concat(
            head(caps),
            encoder.encode(options.user + "\0"),
            Uint8Array.of(auth.length),
            auth,
            encoder.encode("mysql_native_password\0"),
          ),
        ),
      );
      for (;;) {
        const { payload } = await readPacket(reader);
        if (payload[0] === 0x00) break;
        if (payload[0] === 0xff) throw errorOf(payload);
        if (payload[0] === 0xfe) {
          // Auth switch: the same plugin with a new scramble.
          const nameEnd = payload.indexOf(0, 1);
          const plugin = decoder.decode(payload.subarray(1, nameEnd));
          if (plugin !== "mysql_native_password") {
            throw new Error(
              `authentication plugin ${plugin} is not supported here`,
            );
          }
          scramble = payload.slice(nameEnd + 1, nameEnd + 21);
          await writeAll(
            conn,
            packet(next + 1, nativePassword(options.password, scramble)),
          );
          next += 2;
          continue;
        }
        throw new Error(
          `unexpected packet 0x${
            payload[0].toString(16)
          } during authentication`,
        );
      }
      return new MariaClient(conn, reader, tls, id);
    } catch (e) {
      conn.close();
      throw e;
    }
  }

  /** Runs one text query; rejects with a `MariaError` if the server reports one. */
  async query(sql: string): Promise<MariaResult> {
    await writeAll(
      this.conn,
      packet(0, concat(Uint8Array.of(0x03), encoder.encode(sql))),
    );
    const first = (await readPacket(this.reader)).payload;
    if (first[0] === 0xff) throw errorOf(first);
    if (first[0] === 0x00) {
      return { rows: [], affected: lenenc(first, 1)[0] ?? 0 };
    }
    const columns = lenenc(first, 0)[0] ?? 0;
    for (let i = 0; i < columns; i++) await readPacket(this.reader); // definitions
    const eof = (await readPacket(this.reader)).payload;
    if (eof[0] !== 0xfe) throw new Error("no EOF after the column definitions");
    const rows: (string | null)[][] = [];
    for (;;) {
      const row = (await readPacket(this.reader)).payload;
      if (row[0] === 0xfe && row.length < 9) return { rows, affected: 0 };
      if (row[0] === 0xff) throw errorOf(row);
      const values: (string | null)[] = [];
      let off = 0;
      for (let i = 0; i < columns; i++) {
        const [len, size] = lenenc(row, off);
        off += size;
        if (len === null) values.push(null);
        else {
          values.push(decoder.decode(row.subarray(off, off + len)));
          off += len;
        }
      }
      rows.push(values);
    }
  }

  /** The next packet the server sends (an ERR before it closes, say). */
  async next(): Promise<Uint8Array> {
    return (await readPacket(this.reader)).payload;
  }

  /** Sends `COM_QUIT` and closes the connection. */
  async end(): Promise<void> {
    try {
      await writeAll(this.conn, packet(0, Uint8Array.of(0x01)));
    } finally {
      this.conn.close();
    }
  }
}

/** The start of the SSL request and of the handshake response. */
function head(caps: number): Uint8Array {
  const b = new Uint8Array(32);
  const view = new DataView(b.buffer);
  view.setUint32(0, caps, true);
  view.setUint32(4, MAX_PACKET, true);
  b[8] = UTF8MB4;
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** A packet: 3-byte length, sequence number, payload. */
function packet(seq: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(4 + payload.length);
  b[0] = payload.length & 0xff;
  b[1] = (payload.length >> 8) & 0xff;
  b[2] = (payload.length >> 16) & 0xff;
  b[3] = seq & 0xff;
  b.set(payload, 4);
  return b;
}

async function readPacket(
  reader: Reader,
): Promise<{ payload: Uint8Array; seq: number }> {
  const h = await reader.exactly(4);
  const length = h[0] | (h[1] << 8) | (h[2] << 16);
  return { payload: await reader.exactly(length), seq: h[3] };
}

/** An ERR packet as a `MariaError`. */
export function errorOf(payload: Uint8Array): MariaError {
  const code = payload[1] | (payload[2] << 8);
  // `#` and a five-letter SQLSTATE come before the message, when present.
  const from = payload[3] === 0x23 ? 9 : 3;
  return new MariaError(code, decoder.decode(payload.subarray(from)));
}
