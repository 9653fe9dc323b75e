/**
 * Stand-in hosts on one Linux machine: a network namespace each, joined to
 * the machine by a veth pair, with addresses in a /24 of 10.213.0.0/16 that
 * exists only on those veths. Used by `scripts/hosts.ts`; needs root and
 * iproute2's `ip netns`.
 *
 * @module
 */
import { run } from "./runtimes.ts";

/** One stand-in host: its namespace, its veth and its address. */
export interface NetnsHost {
  /** Its label in reports: `a`, `b`. */
  label: string;
  /** The namespace's name (`ip netns`). */
  ns: string;
  /** The veth end on the machine's side. */
  link: string;
  /** The host's address, on the veth end inside the namespace. */
  address: string;
  /** The machine's address on the same /24 (the veth end outside). */
  peer: string;
}

const PREFIX = "10.213.";

/** Whether `cmd args` runs at all (the program exists and succeeds). */
async function runs(cmd: string, args: string[]): Promise<boolean> {
  try {
    await run(cmd, args);
    return true;
  } catch {
    return false;
  }
}

/**
 * What stops stand-in hosts from being made here, one line each with how to
 * get it; empty when nothing does.
 */
export async function netnsMissing(): Promise<string[]> {
  if (Deno.build.os !== "linux") {
    return [`network namespaces are Linux only (this is ${Deno.build.os})`];
  }
  const missing: string[] = [];
  if (Deno.uid() !== 0) {
    missing.push(
      "not root: namespaces and veths need root (run it as root, e.g. `sudo npm run hosts`)",
    );
  }
  if (!await runs("ip", ["netns", "list"])) {
    missing.push(
      "no `ip netns`: install iproute2 (`apt-get install -y iproute2`)",
    );
  }
  return missing;
}

/** Third octets of 10.213.x.0/24 that an address or route already uses. */
async function usedOctets(): Promise<Set<number>> {
  const seen = await run("ip", ["-o", "-4", "addr", "show"]) +
    await run("ip", ["-4", "route", "show", "table", "all"]);
  const used = new Set<number>();
  for (const m of seen.matchAll(/\b10\.213\.(\d+)\./g)) used.add(Number(m[1]));
  return used;
}

/**
 * Makes one stand-in host per label, each in a /24 of 10.213.0.0/16 that no
 * address or route on this machine uses yet, and adds it to `hosts` before
 * making it (so that a teardown while this runs finds it). Names carry this
 * process's pid, so that two runs do not collide. Whatever was made before a
 * failure is removed again before it throws.
 */
export async function createHosts(
  labels: string[],
  hosts: NetnsHost[] = [],
): Promise<NetnsHost[]> {
  const used = await usedOctets();
  let octet = 1;
  try {
    for (const label of labels) {
      while (used.has(octet)) octet++;
      if (octet > 254) throw new Error("no free /24 left in 10.213.0.0/16");
      used.add(octet);
      const host: NetnsHost = {
        label,
        ns: `reuseport-hosts-${Deno.pid}-${label}`,
        link: `rph${Deno.pid}${label}`.slice(0, 15),
        address: `${PREFIX}${octet}.2`,
        peer: `${PREFIX}${octet}.1`,
      };
      hosts.push(host);
      await run("ip", ["netns", "add", host.ns]);
      await run("ip", [
        "link",
        "add",
        host.link,
        "type",
        "veth",
        "peer",
        "name",
        "veth0",
        "netns",
        host.ns,
      ]);
      await run("ip", ["addr", "add", `${host.peer}/24`, "dev", host.link]);
      await run("ip", ["link", "set", host.link, "up"]);
      const inside = ["-n", host.ns];
      await run("ip", [
        ...inside,
        "addr",
        "add",
        `${host.address}/24`,
        "dev",
        "veth0",
      ]);
      await run("ip", [...inside, "link", "set", "veth0", "up"]);
      await run("ip", [...inside, "link", "set", "lo", "up"]);
    }
  } catch (err) {
    await removeHosts(hosts);
    throw err;
  }
  return hosts;
}

/** Pids of the processes in a namespace (none once it is gone). */
export async function pidsIn(ns: string): Promise<number[]> {
  try {
    return (await run("ip", ["netns", "pids", ns])).split("\n")
      .filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Whether process `pid` still runs. A zombie does not: a worker whose runner
 * was killed belongs to init, which reaps it when it gets to it.
 */
export function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(")") + 2));
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends `signal` to every process in `ns`; resolves their pids and when the
 * first signal went (after the namespace's processes were listed).
 */
export async function signalAll(
  ns: string,
  signal: Deno.Signal,
): Promise<{ pids: number[]; at: number }> {
  const pids = await pidsIn(ns);
  const at = Date.now();
  for (const pid of pids) {
    try {
      Deno.kill(pid, signal);
    } catch {
      // Gone already.
    }
  }
  return { pids, at };
}

/**
 * Removes the hosts: kills what still runs in each namespace (SIGKILL: the
 * harness stopped what it meant to stop gracefully before), waits until it is
 * gone (a namespace lives on while a process is in it), then deletes the veth
 * (both ends) and the namespace. Never throws; resolves what it could not
 * remove.
 */
export async function removeHosts(hosts: NetnsHost[]): Promise<string[]> {
  const left: string[] = [];
  for (const host of hosts) {
    const { pids } = await signalAll(host.ns, "SIGKILL");
    const until = Date.now() + 5_000;
    while (pids.some(alive) && Date.now() < until) await sleep(20);
    for (const pid of pids.filter(alive)) left.push(`process ${pid}`);
    for (
      const args of [["link", "del", host.link], ["netns", "del", host.ns]]
    ) {
      try {
        await run("ip", args);
      } catch (err) {
        if (!/Cannot find|No such|does not exist/.test(String(err))) {
          left.push(String((err as Error).message));
        }
      }
    }
  }
  return left;
}

/** Names of this machine's namespaces and links that match `pattern`. */
export async function leftovers(pattern: RegExp): Promise<string[]> {
  const names = [
    ...(await run("ip", ["netns", "list"])).split("\n"),
    ...(await run("ip", ["-o", "link", "show"])).split("\n")
      .map((l) => l.split(":")[1]?.trim().split("@")[0] ?? ""),
  ];
  return names.map((l) => l.split(" ")[0]).filter((n) => pattern.test(n));
}
