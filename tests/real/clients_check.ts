/**
 * The clients of `tests/real/` against real servers, one check a test: run
 * by `scripts/real.ts` (`npm run test:real`), which starts the servers and
 * runs this file on every runtime, never by itself (its name is no test
 * file's, so `deno test tests/` and the compiled suite pass it by).
 *
 * Environment, set by `scripts/real.ts`:
 * - `REAL_CONFIG`   the servers (a `RealConfig` as JSON, in a file)
 * - `REAL_RESULTS`  a file each check appends its outcome to, one JSON line
 * - `REAL_POLYFILL` `1`: on Deno, this package's `Deno.connect` in place of
 *                   Deno's own (`installPolyfill({ override: true })`)
 *
 * Every check talks through the global `Deno` only: native Deno's, or the
 * polyfill's on Node and Bun.
 *
 * @module
 */
import assert from "node:assert/strict";
import { appendFileSync, readFileSync } from "node:fs";
import process from "node:process";
import { test } from "node:test";
import { serveParallel } from "../../mod.ts";
import { installPolyfill } from "../../polyfill.ts";
import type { RealConfig } from "./_config.ts";
import { api, type Conn, errorClass, Reader, writeAll } from "./_deno.ts";
import { MariaClient, MariaError } from "./_mariadb_client.ts";
import { NatsClient, NatsError } from "./_nats_client.ts";
import { PgClient, PgError, pgErrorOf } from "./_postgres_client.ts";
import { RedisClient, RedisError, text } from "./_redis_client.ts";

if (process.env.REAL_POLYFILL === "1") installPolyfill({ override: true });

const configFile = process.env.REAL_CONFIG;
const config: Partial<RealConfig> = configFile
  ? JSON.parse(readFileSync(configFile, "utf8"))
  : {};
const resultsFile = process.env.REAL_RESULTS;
const encoder = new TextEncoder();
const opts = { timeout: 60_000 };

/**
 * A check: a test that also appends its outcome to `REAL_RESULTS` (the
 * matrix reads those, whatever runner ran the file). `server` names the
 * server it needs; without it (not installed, so `scripts/real.ts` let
 * the run go on), the test is skipped saying so.
 */
function check(
  name: string,
  server: "postgres" | "redis" | "nats" | "mariadb",
  fn: () => Promise<void>,
): void {
  const absent = config[server] === undefined;
  const record = (status: "pass" | "fail" | "missing", error?: unknown) => {
    if (!resultsFile) return;
    const line = JSON.stringify({
      check: name,
      status,
      error: error === undefined
        ? undefined
        : `${(error as Error)?.name}: ${(error as Error)?.message}`,
    });
    appendFileSync(resultsFile, line + "\n");
  };
  test(
    name,
    { ...opts, skip: absent && `${server} is not running` },
    async () => {
      try {
        await fn();
      } catch (e) {
        record("fail", e);
        throw e;
      }
      record("pass");
    },
  );
  if (absent) record("missing");
}

/** Closes `conn`, ignoring that it may be closed already. */
function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch (e) {
    if (!(e instanceof errorClass("BadResource"))) throw e;
  }
}

/**
 * After the server closed the connection and a read saw the end: writes
 * until one fails (the first may still reach the socket's buffer; the
 * peer's reset fails a later one) and resolves that error.
 */
async function writeUntilFailure(conn: Conn): Promise<unknown> {
  for (let i = 0; i < 50; i++) {
    try {
      await writeAll(conn, encoder.encode("PING\r\n"));
    } catch (e) {
      return e;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail("50 writes to a connection the server closed all succeeded");
}

/** Reads until the end of the stream (bounded); resolves the bytes read before it. */
async function readToEnd(conn: Conn): Promise<number> {
  const buf = new Uint8Array(4096);
  let total = 0;
  for (let i = 0; i < 1000; i++) {
    const n = await conn.read(buf);
    if (n === null) return total;
    total += n;
  }
  assert.fail("no end of stream after 1000 reads");
}

// ---- Redis -----------------------------------------------------------------

async function redisTcp(): Promise<RedisClient> {
  const r = config.redis!;
  const client = new RedisClient(
    await api("connect").connect({ hostname: "127.0.0.1", port: r.port }),
  );
  await client.auth(r.password);
  return client;
}

check("redis tcp: AUTH refused then accepted, PING", "redis", async () => {
  const r = config.redis!;
  const client = new RedisClient(
    await api().connect({ hostname: "127.0.0.1", port: r.port }),
  );
  try {
    const denied = await client.command("GET", "x");
    assert.ok(
      denied instanceof RedisError && /^NOAUTH/.test(denied.message),
      String(denied),
    );
    const wrong = await client.command("AUTH", "not-the-password");
    assert.ok(
      wrong instanceof RedisError && /^WRONGPASS/.test(wrong.message),
      String(wrong),
    );
    assert.equal(await client.command("AUTH", r.password), "OK");
    assert.equal(await client.command("PING"), "PONG");
  } finally {
    client.close();
  }
});

/** SET then GET of a 1 MiB value; asserts it comes back whole, over several reads. */
async function bigValue(client: RedisClient, key: string): Promise<void> {
  const value = new Uint8Array(1024 * 1024);
  for (let i = 0; i < value.length; i++) value[i] = (i * 31 + 7) & 0xff;
  assert.equal(await client.command("SET", key, value), "OK");
  const before = client.reader.reads;
  const back = await client.command("GET", key);
  assert.ok(back instanceof Uint8Array);
  assert.equal(back.length, value.length);
  assert.deepEqual(back, value);
  assert.ok(client.reader.reads - before > 1, "1 MiB came in one read");
  assert.equal(await client.command("DEL", key), 1);
}

check("redis tcp: a 1 MiB value", "redis", async () => {
  const client = await redisTcp();
  try {
    await bigValue(client, `big:${crypto.randomUUID()}`);
  } finally {
    client.close();
  }
});

check(
  "redis tcp: 1,000 pipelined commands, replies split across reads",
  "redis",
  async () => {
    const client = await redisTcp();
    const key = `n:${crypto.randomUUID()}`;
    try {
      const commands: string[][] = [];
      for (let i = 0; i < 500; i++) {
        commands.push(["INCR", key], [
          "ECHO",
          `reply ${i} ${"y".repeat(i % 97)}`,
        ]);
      }
      const before = client.reader.reads;
      const replies = await client.pipeline(commands);
      for (let i = 0; i < 500; i++) {
        assert.equal(replies[2 * i], i + 1);
        assert.equal(
          text(replies[2 * i + 1]),
          `reply ${i} ${"y".repeat(i % 97)}`,
        );
      }
      assert.ok(
        client.reader.reads - before > 1,
        "1,000 replies came in one read",
      );
      assert.equal(await client.command("DEL", key), 1);
    } finally {
      client.close();
    }
  },
);

check(
  "redis tcp: CLIENT KILL → end of stream, then BrokenPipe",
  "redis",
  async () => {
    const victim = await redisTcp();
    const killer = await redisTcp();
    try {
      const id = await victim.command("CLIENT", "ID");
      assert.equal(typeof id, "number");
      assert.equal(await killer.command("CLIENT", "KILL", "ID", String(id)), 1);
      assert.equal(await readToEnd(victim.conn), 0);
      const error = await writeUntilFailure(victim.conn);
      assert.ok(error instanceof errorClass("BrokenPipe"), `${error}`);
      assert.equal((error as Error).name, "BrokenPipe");
    } finally {
      closeQuietly(victim.conn);
      killer.close();
    }
  },
);

check("redis tls: connectTls, AUTH, a 1 MiB value", "redis", async () => {
  const r = config.redis!;
  const conn = await api("connectTls").connectTls({
    hostname: "127.0.0.1",
    port: r.tlsPort,
    caCerts: [config.caPem!],
  });
  const client = new RedisClient(conn);
  try {
    await client.auth(r.password);
    await bigValue(client, `tls:${crypto.randomUUID()}`);
  } finally {
    client.close();
  }
});

check("redis tls: connect then startTls, AUTH, PING", "redis", async () => {
  const r = config.redis!;
  const deno = api("startTls");
  const tcp = await deno.connect({ hostname: "127.0.0.1", port: r.tlsPort });
  const conn = await deno.startTls(tcp, {
    hostname: "localhost",
    caCerts: [config.caPem!],
  });
  const client = new RedisClient(conn);
  try {
    await client.auth(r.password);
    assert.equal(await client.command("PING"), "PONG");
  } finally {
    client.close();
  }
});

check(
  "redis tls: a certificate from an unknown CA → InvalidData",
  "redis",
  async () => {
    const r = config.redis!;
    const deno = api("connectTls");
    await assert.rejects(
      async () => {
        const conn = await deno.connectTls({
          hostname: "127.0.0.1",
          port: r.tlsPort,
        });
        // Deno reports a failed handshake at the first read or write.
        try {
          await writeAll(conn, encoder.encode("PING\r\n"));
          await conn.read(new Uint8Array(16));
        } finally {
          closeQuietly(conn);
        }
      },
      (e: unknown) =>
        e instanceof errorClass("InvalidData") &&
        /UnknownIssuer|unknown ?issuer/i.test(String(e)),
    );
  },
);

check("redis unix: AUTH, PING over the socket", "redis", async () => {
  const r = config.redis!;
  const client = new RedisClient(
    await api("connect").connect({ transport: "unix", path: r.socket }),
  );
  try {
    await client.auth(r.password);
    assert.equal(await client.command("PING"), "PONG");
    await bigValue(client, `unix:${crypto.randomUUID()}`);
  } finally {
    client.close();
  }
});

/** A port the OS picks on 127.0.0.1, released for the runner's workers to take. */
function freePort(): number {
  const l = api().listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = l.addr;
  l.close();
  return port;
}

check(
  "redis runner: 2 workers with a Redis connection each, a rolling reload under load",
  "redis",
  async () => {
    // The service, from source on Deno and from the build elsewhere.
    const file = new URL(
      typeof (globalThis as { Bun?: unknown }).Bun === "undefined" &&
        process.versions.deno
        ? "./_kv_app.ts"
        : "./_kv_app.js",
      import.meta.url,
    );
    const port = freePort();
    process.env.PORT = String(port);
    const server = await serveParallel({
      file: file.pathname,
      workers: 2,
      graceMs: 5000,
    });
    const key = `runner:${crypto.randomUUID()}`;
    const values: number[] = [];
    /** Who answered: `<pid>` in processes, `<pid> <threadId>` in threads. */
    const workers = new Set<string>();
    let stop = false;
    /**
     * Connections the kernel had queued on a stopping worker's own socket,
     * reset before any answer (kernel strategy: Deno's workers; see
     * docs/RUNNER.md, `net.ipv4.tcp_migrate_req`). Nothing read their
     * request, so a client retries them, as a driver's pool would.
     */
    let queuedResets = 0;
    const resetBeforeAnswer = (e: unknown, answered: number) =>
      answered === 0 && server.strategy.strategy === "kernel" &&
      (e instanceof errorClass("ConnectionReset") ||
        e instanceof errorClass("BrokenPipe"));
    /** One client: connections of 10 requests each, until told to stop. */
    const client = async () => {
      while (!stop) {
        const conn = await api().connect({ hostname: "127.0.0.1", port });
        const reader = new Reader(conn);
        let answered = 0;
        try {
          for (let i = 0; i < 10; i++) {
            await writeAll(conn, encoder.encode(`INCR ${key}\r\n`));
            const [value, pid, thread] = (await reader.line()).split(" ");
            answered++;
            values.push(Number(value));
            workers.add(server.mode === "threads" ? `${pid} ${thread}` : pid);
          }
        } catch (e) {
          if (!resetBeforeAnswer(e, answered)) throw e;
          queuedResets++;
        } finally {
          conn.close();
        }
      }
    };
    try {
      const clients = Array.from({ length: 4 }, client);
      await new Promise((r) => setTimeout(r, 300));
      const before = new Set(workers);
      const replaced = await server.reload();
      // `new` is a process id, or a thread id in threads.
      const id = (n: number) =>
        server.mode === "threads" ? `${process.pid} ${n}` : String(n);
      // Until each new worker has answered (an emulated share can favour
      // one worker for a while), for at most 5 s.
      for (let waited = 0; waited < 5000; waited += 100) {
        if (waited >= 300 && replaced.every((r) => workers.has(id(r.new)))) {
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      stop = true;
      await Promise.all(clients);
      assert.equal(replaced.length, 2);
      // Every request answered once, none lost or doubled: 1…n, each once.
      const sorted = [...values].sort((a, b) => a - b);
      assert.deepEqual(sorted, sorted.map((_, i) => i + 1));
      assert.ok(values.length > 100, `only ${values.length} requests`);
      // Only a few can have been queued on the two closing sockets.
      assert.ok(queuedResets <= 16, `${queuedResets} reset before an answer`);
      // Answers came from the old workers and from their replacements.
      assert.ok(before.size >= 1);
      assert.ok(
        replaced.every((r) => workers.has(id(r.new))),
        `a new worker never answered: ${[...workers]}`,
      );
    } finally {
      stop = true;
      await server.close();
      const redis = await redisTcp();
      await redis.command("DEL", key);
      redis.close();
    }
  },
);

// ---- NATS ------------------------------------------------------------------

function natsOptions(password = config.nats!.password) {
  return { user: config.nats!.user, password, caPem: config.caPem };
}

/** Subscribes, publishes `count` messages in one write, and checks each arrives, in order. */
async function burst(client: NatsClient, count: number): Promise<void> {
  const subject = `burst.${crypto.randomUUID()}`;
  await client.subscribe(subject, "1");
  const payloads = Array.from(
    { length: count },
    (_, i) => encoder.encode(`message ${i} ${"m".repeat(i % 200)}`),
  );
  const before = client.reader.reads;
  await client.publishAll(subject, payloads);
  await client.send("PING\r\n");
  const decoder = new TextDecoder();
  for (let i = 0; i < count; i++) {
    const msg = await client.next();
    assert.ok(msg, `PONG before message ${i}`);
    assert.equal(msg.subject, subject);
    assert.equal(decoder.decode(msg.data), decoder.decode(payloads[i]));
  }
  assert.equal(await client.next(), null); // the PONG
  assert.ok(client.reader.reads - before > 1, "the burst came in one read");
}

check("nats tcp: CONNECT refused then accepted", "nats", async () => {
  const deno = api();
  const bad = await deno.connect({
    hostname: "127.0.0.1",
    port: config.nats!.port,
  });
  await assert.rejects(
    NatsClient.connect(bad, natsOptions("not-the-password")),
    (e: unknown) =>
      e instanceof NatsError && /Authorization Violation/.test(e.message),
  );
  const client = await NatsClient.connect(
    await deno.connect({ hostname: "127.0.0.1", port: config.nats!.port }),
    natsOptions(),
  );
  try {
    assert.equal(client.tls, false);
    assert.equal(typeof client.info.server_id, "string");
  } finally {
    client.close();
  }
});

check("nats tcp: a burst of 10,000 messages", "nats", async () => {
  const client = await NatsClient.connect(
    await api().connect({ hostname: "127.0.0.1", port: config.nats!.port }),
    natsOptions(),
  );
  try {
    await burst(client, 10_000);
  } finally {
    client.close();
  }
});

check(
  "nats tls: tls_required → startTls, a burst of 2,000 messages",
  "nats",
  async () => {
    api("startTls");
    const client = await NatsClient.connect(
      await api().connect({
        hostname: "127.0.0.1",
        port: config.nats!.tlsPort,
      }),
      natsOptions(),
    );
    try {
      assert.equal(client.tls, true);
      await burst(client, 2_000);
    } finally {
      client.close();
    }
  },
);

check(
  "nats tcp: the server stopped → end of stream, then BrokenPipe",
  "nats",
  async () => {
    const doomed = config.nats!.doomed;
    assert.ok(doomed, "no NATS server to stop was started for this run");
    const client = await NatsClient.connect(
      await api().connect({ hostname: "127.0.0.1", port: doomed.port }),
      natsOptions(),
    );
    try {
      process.kill(doomed.pid, "SIGTERM");
      // Whatever the server says on its way out (nothing, or an -ERR line), then the end.
      await readToEnd(client.conn);
      const error = await writeUntilFailure(client.conn);
      assert.ok(error instanceof errorClass("BrokenPipe"), `${error}`);
    } finally {
      closeQuietly(client.conn);
    }
  },
);

// ---- SQL: PostgreSQL and MariaDB --------------------------------------------

/** What the SQL checks use of a client; both clients of `tests/real/` have it. */
interface SqlClient {
  readonly conn: Conn;
  readonly reader: Reader;
  readonly tls: boolean;
  query(sql: string): Promise<{ rows: (string | null)[][] }>;
  end(): Promise<void>;
}

/**
 * A SQL server as the checks drive it: how to log in, and the dialect of
 * each question the checks ask. The same checks run on both, so what they
 * prove (auth, results over many reads, a server-side kill, TLS by
 * `startTls`, the Unix socket) is proved alike.
 */
interface SqlServer {
  server: "postgres" | "mariadb";
  /** The password scheme the server asks for (in the check names). */
  auth: string;
  where(): { port: number; socket: string };
  login(conn: Conn, tls: boolean, password?: string): Promise<SqlClient>;
  /** Whether `e` is the server's "wrong password". */
  refused(e: unknown): boolean;
  /** A query over TCP and the one row it answers. */
  whoami: [sql: string, row: () => string[]];
  /** A query over the Unix socket and the one row it answers. */
  overUnix: [sql: string, row: string[]];
  /** Statements before the big query (its session settings). */
  bigSetup: string[];
  /** 20,000 rows of `n`, `md5(n)` + 64 × "x". */
  bigQuery: string;
  /** A failing query, and whether the error is the one expected. */
  failing: [sql: string, expected: (e: unknown) => boolean];
  /** How the server is made to drop the connection, in the check name. */
  killName: string;
  /** Has `killer` make the server drop `victim`'s session and reads what it says before closing. */
  kill(victim: SqlClient, killer: SqlClient): Promise<void>;
  /** The negotiated TLS version, as the server reports it. */
  tlsVersion(client: SqlClient): Promise<string | null>;
}

const postgres: SqlServer = {
  server: "postgres",
  auth: "SCRAM-SHA-256",
  where: () => config.postgres!,
  login: (conn, tls, password = config.postgres!.password) =>
    PgClient.connect(conn, {
      user: config.postgres!.user,
      password,
      database: config.postgres!.database,
      caPem: tls ? config.caPem : undefined,
    }),
  refused: (e) => e instanceof PgError && e.code === "28P01",
  whoami: ["SELECT current_user, 1 + 1", () => [config.postgres!.user, "2"]],
  overUnix: ["SELECT inet_client_addr() IS NULL", ["t"]], // NULL over a Unix socket
  bigSetup: [],
  bigQuery:
    "SELECT g, md5(g::text) || repeat('x', 64) FROM generate_series(1, 20000) AS g",
  failing: ["SELECT 1/0", (e) => e instanceof PgError && e.code === "22012"],
  killName: "pg_terminate_backend → FATAL 57P01",
  async kill(victim, killer) {
    const pg = victim as PgClient;
    const { rows } = await killer.query(
      `SELECT pg_terminate_backend(${pg.pid})`,
    );
    assert.deepEqual(rows, [["t"]]);
    const msg = await pg.next();
    assert.equal(msg.type, "E");
    assert.equal(pgErrorOf(msg).code, "57P01");
    assert.equal(await readToEnd(pg.conn), 0);
  },
  async tlsVersion(client) {
    const { rows } = await client.query(
      "SELECT version FROM pg_stat_ssl WHERE ssl AND pid = pg_backend_pid()",
    );
    return rows[0]?.[0] ?? null;
  },
};

const mariadb: SqlServer = {
  server: "mariadb",
  auth: "mysql_native_password",
  where: () => config.mariadb!,
  login: (conn, tls, password = config.mariadb!.password) =>
    MariaClient.connect(conn, {
      user: config.mariadb!.user,
      password,
      caPem: tls ? config.caPem : undefined,
    }),
  refused: (e) => e instanceof MariaError && e.code === 1045, // access denied
  whoami: ["SELECT CURRENT_USER(), 1 + 1", () => ["app@127.0.0.1", "2"]],
  overUnix: ["SELECT CURRENT_USER()", ["app@localhost"]],
  // The recursion stops at 1,000 rows unless allowed more.
  bigSetup: ["SET SESSION max_recursive_iterations = 100000"],
  bigQuery:
    "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 20000) " +
    "SELECT n, CONCAT(MD5(n), REPEAT('x', 64)) FROM s",
  failing: [
    "SELECT * FROM no_such_table_here",
    (e) => e instanceof MariaError && e.code === 1046, // no database selected
  ],
  killName: "KILL",
  async kill(victim, killer) {
    await killer.query(`KILL ${(victim as MariaClient).connectionId}`);
    // MariaDB may say "Connection was killed" (an ERR packet) before it closes.
    await readToEnd(victim.conn);
  },
  async tlsVersion(client) {
    const { rows } = await client.query(
      "SHOW SESSION STATUS LIKE 'Ssl_version'",
    );
    return rows[0]?.[1] || null;
  },
};

/** A logged-in client of `db` over TCP. */
async function sqlTcp(db: SqlServer): Promise<SqlClient> {
  const conn = await api().connect({
    hostname: "127.0.0.1",
    port: db.where().port,
  });
  return await db.login(conn, false);
}

for (const db of [postgres, mariadb]) {
  const { server } = db;

  check(`${server} tcp: ${db.auth} refused then accepted`, server, async () => {
    const conn = await api().connect({
      hostname: "127.0.0.1",
      port: db.where().port,
    });
    await assert.rejects(
      db.login(conn, false, "not-the-password"),
      (e: unknown) => db.refused(e),
    );
    const client = await sqlTcp(db);
    try {
      assert.equal(client.tls, false);
      const [sql, row] = db.whoami;
      assert.deepEqual((await client.query(sql)).rows, [row()]);
    } finally {
      await client.end();
    }
  });

  check(
    `${server} tcp: a 20,000-row result across many reads, then an error and more`,
    server,
    async () => {
      const client = await sqlTcp(db);
      try {
        for (const sql of db.bigSetup) await client.query(sql);
        const before = client.reader.reads;
        const { rows } = await client.query(db.bigQuery);
        assert.equal(rows.length, 20000);
        assert.equal(rows[19999][0], "20000");
        assert.match(rows[12345][1]!, /^[0-9a-f]{32}x{64}$/);
        assert.ok(
          client.reader.reads - before > 10,
          `only ${client.reader.reads - before} reads`,
        );
        const [failing, expected] = db.failing;
        await assert.rejects(client.query(failing), expected);
        assert.deepEqual((await client.query("SELECT 'still here'")).rows, [[
          "still here",
        ]]);
      } finally {
        await client.end();
      }
    },
  );

  check(
    `${server} tcp: ${db.killName} → end of stream, then BrokenPipe`,
    server,
    async () => {
      const victim = await sqlTcp(db);
      const killer = await sqlTcp(db);
      try {
        await db.kill(victim, killer);
        const error = await writeUntilFailure(victim.conn);
        assert.ok(error instanceof errorClass("BrokenPipe"), `${error}`);
      } finally {
        closeQuietly(victim.conn);
        await killer.end();
      }
    },
  );

  check(
    `${server} tls: the server's SSL request + startTls, ${db.auth}, the server says TLS`,
    server,
    async () => {
      api("startTls");
      const conn = await api().connect({
        hostname: "127.0.0.1",
        port: db.where().port,
      });
      const client = await db.login(conn, true);
      try {
        assert.equal(client.tls, true);
        assert.match(await db.tlsVersion(client) ?? "none", /^TLSv1\.[23]$/);
        // Many TLS records, each decrypted on the way in.
        for (const sql of db.bigSetup) await client.query(sql);
        const { rows } = await client.query(db.bigQuery);
        assert.equal(rows.length, 20000);
      } finally {
        await client.end();
      }
    },
  );

  check(`${server} unix: ${db.auth} over the socket`, server, async () => {
    const conn = await api("connect").connect({
      transport: "unix",
      path: db.where().socket,
    });
    const client = await db.login(conn, false);
    try {
      const [sql, row] = db.overUnix;
      assert.deepEqual((await client.query(sql)).rows, [row]);
    } finally {
      await client.end();
    }
  });
}
