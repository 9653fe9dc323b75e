/**
 * The global `Deno` the clients use, typed as `lib.deno.ns.d.ts` has it (the
 * polyfill's global types cover only TCP so far): `connect` (TCP and Unix),
 * `connectTls`, `startTls`, the connection's `read` / `write` /
 * `closeWrite` / `close`, and `errors`. Where a function is missing (TLS and
 * Unix sockets on Node and Bun before those branches land) `api()` says so
 * by name, so that check fails saying what is missing.
 *
 * @module
 */

/** `Deno.Conn`, as far as the clients go. */
export interface Conn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
}

/** `Deno.ConnectTlsOptions` / `Deno.StartTlsOptions`, as far as the clients go. */
export interface TlsOptions {
  hostname?: string;
  caCerts?: string[];
}

/** The members of the global `Deno` the clients use. */
export interface DenoApi {
  connect(
    options:
      | { hostname?: string; port: number; transport?: "tcp" }
      | { transport: "unix"; path: string },
  ): Promise<Conn>;
  connectTls(options: TlsOptions & { port: number }): Promise<Conn>;
  startTls(conn: Conn, options?: TlsOptions): Promise<Conn>;
  listen(
    options: { hostname: string; port: number },
  ): { addr: { port: number }; close(): void };
  errors: Record<string, new (message?: string) => Error>;
}

/** The global `Deno`; throws naming `member` if the runtime has no such function. */
export function api(member?: keyof DenoApi): DenoApi {
  const deno = (globalThis as { Deno?: Partial<DenoApi> }).Deno;
  if (!deno) throw new Error("there is no global Deno (polyfill not loaded)");
  if (member && typeof deno[member] !== "function" && member !== "errors") {
    throw new TypeError(`Deno.${member} is not a function on this runtime`);
  }
  return deno as DenoApi;
}

/** `Deno.errors.<name>`, for `assert.rejects` and `instanceof`. */
export function errorClass(name: string): new (message?: string) => Error {
  const cls = api().errors[name];
  if (!cls) throw new Error(`Deno.errors.${name} does not exist here`);
  return cls;
}

/** Writes all of `bytes` (Deno's `write` may take part of it). */
export async function writeAll(conn: Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/**
 * Buffered reading from a connection, as drivers do: whole lines and exact
 * byte counts, whatever the reads return; counts the reads it took.
 */
export class Reader {
  #conn: Conn;
  #buf = new Uint8Array(0);
  #chunk = new Uint8Array(16 * 1024);
  /** Reads (`conn.read` calls that returned data) so far. */
  reads = 0;

  /** A reader of `conn`. */
  constructor(conn: Conn) {
    this.#conn = conn;
  }

  /** Bytes read and not yet taken. */
  get buffered(): number {
    return this.#buf.length;
  }

  /** Reads once more into the buffer; false at the end of the stream. */
  async fill(): Promise<boolean> {
    const n = await this.#conn.read(this.#chunk);
    if (n === null) return false;
    this.reads++;
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(this.#chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
    return true;
  }

  /** Exactly `n` bytes; `UnexpectedEof` if the stream ends first. */
  async exactly(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) {
      if (!(await this.fill())) {
        throw new (errorClass("UnexpectedEof"))(
          `stream ended ${n - this.#buf.length} bytes short`,
        );
      }
    }
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  /** One line without its `\r\n`; `UnexpectedEof` if the stream ends first. */
  async line(): Promise<string> {
    let from = 0;
    for (;;) {
      const at = this.#buf.indexOf(10, from);
      if (at > 0 && this.#buf[at - 1] === 13) {
        const text = new TextDecoder().decode(this.#buf.subarray(0, at - 1));
        this.#buf = this.#buf.subarray(at + 1);
        return text;
      }
      from = this.#buf.length;
      if (!(await this.fill())) {
        throw new (errorClass("UnexpectedEof"))("stream ended inside a line");
      }
    }
  }
}
