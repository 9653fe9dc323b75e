/**
 * A small PostgreSQL client in the style of Deno's Postgres drivers, on the
 * global `Deno` only: the v3 startup message, `SSLRequest` then
 * `Deno.startTls`, SCRAM-SHA-256 (with `node:crypto`), and simple queries
 * whose rows may span any number of reads.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { api, type Conn, Reader, writeAll } from "./_deno.ts";

/** Where and as whom to connect. */
export interface PgOptions {
  user: string;
  password: string;
  database: string;
  /** The CA (PEM) to trust; with it, the client asks for TLS (`SSLRequest`). */
  caPem?: string;
}

/** An `ErrorResponse` from the server (fields by their one-letter code). */
export class PgError extends Error {
  override name = "PgError";
  readonly fields: Record<string, string>;
  /** An error from the fields of an `ErrorResponse`. */
  constructor(fields: Record<string, string>) {
    super(`${fields.S ?? "ERROR"} ${fields.C ?? ""}: ${fields.M ?? ""}`);
    this.fields = fields;
  }
  /** The SQLSTATE code. */
  get code(): string {
    return this.fields.C ?? "";
  }
}

/** One backend message: its type byte and body. */
export interface PgMessage {
  type: string;
  body: Uint8Array;
}

/** What a simple query returned. */
export interface QueryResult {
  columns: string[];
  rows: (string | null)[][];
  command: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function int32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, n);
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A frontend message: type byte (none for startup ones), length, body. */
function message(type: string, body: Uint8Array): Uint8Array {
  const head = type ? encoder.encode(type) : new Uint8Array(0);
  return concat(head, int32(body.length + 4), body);
}

function cstring(s: string): Uint8Array {
  return encoder.encode(s + "\0");
}

/** The fields of an `ErrorResponse` / `NoticeResponse` body. */
function errorFields(body: Uint8Array): Record<string, string> {
  const fields: Record<string, string> = {};
  let off = 0;
  while (off < body.length && body[off] !== 0) {
    const end = body.indexOf(0, off + 1);
    fields[String.fromCharCode(body[off])] = decoder.decode(
      body.subarray(off + 1, end),
    );
    off = end + 1;
  }
  return fields;
}

/** A connection to PostgreSQL, authenticated and ready for queries. */
export class PgClient {
  readonly conn: Conn;
  readonly reader: Reader;
  /** Whether the connection runs over TLS. */
  readonly tls: boolean;
  /** The server process serving this connection (`BackendKeyData`). */
  pid = 0;
  readonly parameters: Record<string, string> = {};

  private constructor(conn: Conn, tls: boolean) {
    this.conn = conn;
    this.reader = new Reader(conn);
    this.tls = tls;
  }

  /**
   * Opens a session over `conn` (TCP or Unix): TLS first if `caPem` is
   * given (the server must agree), then startup and authentication.
   */
  static async connect(conn: Conn, options: PgOptions): Promise<PgClient> {
    let tls = false;
    try {
      if (options.caPem !== undefined) {
        // SSLRequest: a length and the code 80877103; the server answers one byte.
        await writeAll(conn, concat(int32(8), int32(80877103)));
        const answer = new Uint8Array(1);
        if ((await conn.read(answer)) !== 1) {
          throw new Error("no answer to SSLRequest");
        }
        if (answer[0] !== 0x53) throw new Error("the server refused TLS");
        conn = await api("startTls").startTls(conn, {
          hostname: "localhost",
          caCerts: [options.caPem],
        });
        tls = true;
      }
    } catch (e) {
      conn.close();
      throw e;
    }
    const client = new PgClient(conn, tls);
    try {
      await client.#startup(options);
    } catch (e) {
      conn.close();
      throw e;
    }
    return client;
  }

  async #startup(options: PgOptions): Promise<void> {
    const params = concat(
      cstring("user"),
      cstring(options.user),
      cstring("database"),
      cstring(options.database),
      cstring("client_encoding"),
      cstring("UTF8"),
      new Uint8Array([0]),
    );
    await writeAll(this.conn, message("", concat(int32(196608), params)));
    let scram: Scram | undefined;
    for (;;) {
      const msg = await this.next();
      const view = new DataView(
        msg.body.buffer,
        msg.body.byteOffset,
        msg.body.length,
      );
      if (msg.type === "E") throw new PgError(errorFields(msg.body));
      if (msg.type === "R") {
        const kind = view.getInt32(0);
        const data = msg.body.subarray(4);
        if (kind === 0) continue; // AuthenticationOk
        if (kind === 10) {
          const mechanisms = decoder.decode(data).split("\0").filter(Boolean);
          if (!mechanisms.includes("SCRAM-SHA-256")) {
            throw new Error(`no SCRAM-SHA-256 among ${mechanisms}`);
          }
          scram = new Scram(options.user, options.password);
          const first = encoder.encode(scram.clientFirst());
          await writeAll(
            this.conn,
            message(
              "p",
              concat(cstring("SCRAM-SHA-256"), int32(first.length), first),
            ),
          );
        } else if (kind === 11 && scram) {
          const final = scram.clientFinal(decoder.decode(data));
          await writeAll(this.conn, message("p", encoder.encode(final)));
        } else if (kind === 12 && scram) {
          scram.verifyServer(decoder.decode(data));
        } else {
          throw new Error(
            `authentication request ${kind} is not supported here`,
          );
        }
      } else if (msg.type === "S") {
        const [key, value] = decoder.decode(msg.body).split("\0");
        this.parameters[key] = value;
      } else if (msg.type === "K") {
        this.pid = view.getInt32(0);
      } else if (msg.type === "Z") {
        if (!scram?.verified) {
          throw new Error("the server never proved it knows the password");
        }
        return;
      }
    }
  }

  /** The next backend message; `UnexpectedEof` if the stream ends first. */
  async next(): Promise<PgMessage> {
    const head = await this.reader.exactly(5);
    const length = new DataView(head.buffer, head.byteOffset, 5).getInt32(1);
    const body = await this.reader.exactly(length - 4);
    return { type: String.fromCharCode(head[0]), body };
  }

  /** Runs one simple query; rejects with a `PgError` if the server reports one. */
  async query(sql: string): Promise<QueryResult> {
    await writeAll(this.conn, message("Q", cstring(sql)));
    const result: QueryResult = { columns: [], rows: [], command: "" };
    let error: PgError | undefined;
    for (;;) {
      const msg = await this.next();
      const view = new DataView(
        msg.body.buffer,
        msg.body.byteOffset,
        msg.body.length,
      );
      switch (msg.type) {
        case "T": {
          const n = view.getInt16(0);
          let off = 2;
          for (let i = 0; i < n; i++) {
            const end = msg.body.indexOf(0, off);
            result.columns.push(decoder.decode(msg.body.subarray(off, end)));
            off = end + 1 + 18; // table oid, column, type oid, size, modifier, format
          }
          break;
        }
        case "D": {
          const n = view.getInt16(0);
          let off = 2;
          const row: (string | null)[] = [];
          for (let i = 0; i < n; i++) {
            const len = view.getInt32(off);
            off += 4;
            if (len < 0) row.push(null);
            else {
              row.push(decoder.decode(msg.body.subarray(off, off + len)));
              off += len;
            }
          }
          result.rows.push(row);
          break;
        }
        case "C":
          result.command = decoder.decode(
            msg.body.subarray(0, msg.body.length - 1),
          );
          break;
        case "E":
          error = new PgError(errorFields(msg.body));
          break;
        case "Z":
          if (error) throw error;
          return result;
        default: // NoticeResponse, ParameterStatus, EmptyQueryResponse
      }
    }
  }

  /** Sends `Terminate` and closes the connection. */
  async end(): Promise<void> {
    try {
      await writeAll(this.conn, message("X", new Uint8Array(0)));
    } finally {
      this.conn.close();
    }
  }
}

/** An error message the server sent (`ErrorResponse`), as a `PgError`. */
export function pgErrorOf(msg: PgMessage): PgError {
  return new PgError(errorFields(msg.body));
}

/** SCRAM-SHA-256 (RFC 5802 / 7677) without channel binding. */
class Scram {
  #password: string;
  #nonce = randomBytes(18).toString("base64");
  #clientFirstBare: string;
  #serverSignature?: Buffer;
  verified = false;

  constructor(_user: string, password: string) {
    this.#password = password;
    // PostgreSQL takes the user from the startup message; n= stays empty.
    this.#clientFirstBare = `n=,r=${this.#nonce}`;
  }

  clientFirst(): string {
    return `n,,${this.#clientFirstBare}`;
  }

  clientFinal(serverFirst: string): string {
    const attrs = Object.fromEntries(
      serverFirst.split(",").map((kv) => [kv[0], kv.slice(2)]),
    );
    if (!attrs.r?.startsWith(this.#nonce)) {
      throw new Error("SCRAM: the server's nonce does not extend ours");
    }
    const salted = pbkdf2Sync(
      this.#password,
      Buffer.from(attrs.s, "base64"),
      Number(attrs.i),
      32,
      "sha256",
    );
    const hmac = (key: Buffer, text: string) =>
      createHmac("sha256", key).update(text).digest();
    const clientKey = hmac(salted, "Client Key");
    const storedKey = createHash("sha256").update(clientKey).digest();
    const withoutProof = `c=biws,r=${attrs.r}`;
    const authMessage =
      `${this.#clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]));
    this.#serverSignature = hmac(hmac(salted, "Server Key"), authMessage);
    return `${withoutProof},p=${proof.toString("base64")}`;
  }

  verifyServer(serverFinal: string): void {
    const v = /(?:^|,)v=([^,]+)/.exec(serverFinal)?.[1];
    if (
      !v || !this.#serverSignature ||
      !Buffer.from(v, "base64").equals(this.#serverSignature)
    ) {
      throw new Error("SCRAM: the server's signature does not match");
    }
    this.verified = true;
  }
}
