/**
 * A real DNS server on loopback for tests: Debian's `dnsmasq` (package
 * `dnsmasq-base`) on a free high port, with no upstream and no hosts file,
 * serving only the records a test gives it, from a config file in a temp dir
 * of its own. Self-contained (Node APIs only), so it can move to a shared
 * folder of real-server helpers.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import process from "node:process";

/** A running dnsmasq. */
export interface Dnsmasq {
  /** Its address, as `resolveDns`' `nameServer` takes it. */
  nameServer: { ipAddr: string; port: number };
  /** Stops it (only this process) and removes its temp dir. */
  stop(): Promise<void>;
}

/** Where a distribution puts dnsmasq, besides `PATH` (`/usr/sbin` is not on a user's `PATH`). */
const SBIN = ["/usr/sbin", "/sbin", "/usr/local/sbin"];

/** Where to look for dnsmasq: `PATH`, then the sbin folders. */
const searchDirs = (): string[] => [
  ...(process.env.PATH ?? "").split(delimiter).filter((d) => d !== ""),
  ...SBIN,
];

/** The dnsmasq binary in `dirs`, if there is one. */
export function dnsmasqPath(dirs: string[] = searchDirs()): string | undefined {
  return dirs.map((d) => join(d, "dnsmasq")).find((p) => existsSync(p));
}

/**
 * Why the DNS tests cannot run here (dnsmasq is not in `dirs`), in one line
 * with how to fix it, or `undefined` when they can.
 */
export function dnsmasqMissing(
  dirs: string[] = searchDirs(),
): string | undefined {
  if (dnsmasqPath(dirs)) return undefined;
  return "dnsmasq not found: install it with `apt-get install dnsmasq-base` (Debian/Ubuntu, as root)";
}

/** A UDP port free on loopback now (dnsmasq binds it next; a race is retried). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket("udp4");
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

/** A question for `ready.invalid`, type A, as bytes (any answer will do). */
const PROBE = new Uint8Array([
  0x12,
  0x34,
  1,
  0,
  0,
  1,
  0,
  0,
  0,
  0,
  0,
  0,
  5,
  ...[..."ready"].map((c) => c.charCodeAt(0)),
  7,
  ...[..."invalid"].map((c) => c.charCodeAt(0)),
  0,
  0,
  1,
  0,
  1,
]);

/** Whether the server at `port` answers a question within 200 ms (any answer counts). */
function answers(port: number): Promise<boolean> {
  const socket = createSocket("udp4");
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 200);
    socket.once("message", () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.once("error", () => {
      clearTimeout(timer);
      resolve(false);
    });
    socket.connect(port, "127.0.0.1", () => socket.send(PROBE));
  }).finally(() => socket.close());
}

/** Resolves when `child` has exited (at once if it already has). */
function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/**
 * Starts dnsmasq on `127.0.0.1` with `options` (dnsmasq's config-file lines:
 * `host-record=...`, `mx-host=...`) and waits until it answers. Throws,
 * with dnsmasq's own words, if it does not start.
 */
export async function startDnsmasq(options: string[]): Promise<Dnsmasq> {
  const binary = dnsmasqPath();
  if (!binary) throw new Error(dnsmasqMissing());
  let lastError = "";
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "reuseport-dnsmasq-"));
    const conf = join(dir, "dnsmasq.conf");
    writeFileSync(
      conf,
      [
        "no-resolv",
        "no-hosts",
        "no-poll",
        "listen-address=127.0.0.1",
        "bind-interfaces",
        `port=${port}`,
        ...options,
        "",
      ].join("\n"),
    );
    const child = spawn(
      binary,
      ["--keep-in-foreground", `--conf-file=${conf}`, "--pid-file"],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr!.on("data", (chunk) => stderr += chunk);
    child.on("error", (err) => stderr += String(err));
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
      }
      await exited(child);
      rmSync(dir, { recursive: true, force: true });
    };
    // Bounded: 50 probes of at most 200 ms each.
    for (let i = 0; i < 50; i++) {
      if (child.exitCode !== null) break;
      if (await answers(port)) {
        return { nameServer: { ipAddr: "127.0.0.1", port }, stop };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await stop();
    lastError = stderr.trim() || `no answer on port ${port}`;
    // Another process took the port between our probe and dnsmasq's bind.
    if (!/in use/i.test(lastError)) break;
  }
  throw new Error(`dnsmasq did not start: ${lastError}`);
}
