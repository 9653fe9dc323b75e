/**
 * `resolveDns` on `node:dns`'s `Resolver` (c-ares), for Node and Bun: one
 * resolver per question (its own servers, its own cancel), answers turned
 * into Deno's record shapes and errors into Deno's classes and words. Record
 * types c-ares cannot ask for (`ANAME` and the rarer ones Deno's resolver
 * knows) go out as one raw UDP question (`dns_wire.ts`).
 *
 * @module
 */
import { ipFamily } from "../core/ip.ts";
import { builtin } from "./builtin.ts";
import type { Resolver } from "node:dns";
import { DnsError } from "../core/messages.ts";
import { askRaw } from "./dns_wire.ts";
import type { DnsQuestion, DnsRecord } from "./types.ts";

/** The types `Resolver#resolve` asks for by name, besides `ANY`. */
const C_ARES_TYPES: ReadonlySet<string> = new Set([
  "A",
  "AAAA",
  "CAA",
  "CNAME",
  "MX",
  "NAPTR",
  "NS",
  "PTR",
  "SOA",
  "SRV",
  "TXT",
]);

/** c-ares' answers that mean "no such records": Deno's resolver says `NotFound` to each. */
const NOT_FOUND: ReadonlySet<string> = new Set([
  "ENOTFOUND",
  "ENODATA",
  "EREFUSED",
  "ESERVFAIL",
  "ENOTIMP",
  "EFORMERR",
]);

/** No answer in time, or nobody at the server's port: Deno's resolver times out on both. */
const TIMED_OUT: ReadonlySet<string> = new Set(["ETIMEOUT", "ECONNREFUSED"]);

/** A name as Deno writes it: absolute, with the root's dot. */
const absolute = (name: string): string =>
  name.endsWith(".") ? name : `${name}.`;

type Answer = Record<string, unknown>;

/** A record object as Deno makes one: with no prototype. */
const bare = (
  fields: Record<string, string | number | boolean>,
): DnsRecord => Object.assign(Object.create(null), fields);

/** One c-ares answer in Deno's shape for `recordType`. */
function shape(recordType: string, r: unknown): DnsRecord {
  const a = r as Answer;
  switch (recordType) {
    case "A":
    case "AAAA":
      return r as string;
    case "CNAME":
    case "NS":
    case "PTR":
      return absolute(r as string);
    case "TXT":
      return r as string[];
    case "MX":
      return bare({
        preference: a.priority as number,
        exchange: absolute(a.exchange as string),
      });
    case "SRV":
      return bare({
        priority: a.priority as number,
        weight: a.weight as number,
        port: a.port as number,
        target: absolute(a.name as string),
      });
    case "SOA":
      // Deno's resolver reads refresh, retry and expire as signed 32-bit.
      return bare({
        mname: absolute(a.nsname as string),
        rname: absolute(a.hostmaster as string),
        serial: (a.serial as number) >>> 0,
        refresh: (a.refresh as number) | 0,
        retry: (a.retry as number) | 0,
        expire: (a.expire as number) | 0,
        minimum: (a.minttl as number) >>> 0,
      });
    case "NAPTR":
      return bare({
        order: a.order as number,
        preference: a.preference as number,
        flags: a.flags as string,
        services: a.service as string,
        regexp: a.regexp as string,
        replacement: absolute(a.replacement as string),
      });
    case "CAA": {
      // c-ares gives the flags byte and the tag as the value's key (and
      // Node a `type` beside them).
      const keys = Object.keys(a).filter((k) => k !== "critical");
      const tag = keys.find((k) => k !== "type") ?? keys[0] ?? "";
      return bare({
        critical: ((a.critical as number) & 0x80) !== 0,
        tag,
        value: String(a[tag] ?? ""),
      });
    }
  }
  throw DnsError.unsupportedRecordType();
}

/** A c-ares error as Deno's resolver reports the same outcome. */
function translate(err: unknown, question: DnsQuestion): Error {
  const code = (err as { code?: string })?.code ?? "";
  if (NOT_FOUND.has(code)) {
    return DnsError.notFound(question.shown, question.recordType);
  }
  if (TIMED_OUT.has(code)) return DnsError.timedOut();
  return new Error(`proto error: ${(err as Error)?.message ?? err}`);
}

/** The server as `setServers` takes it, port included. */
function serverString(ip: string, port: number): string {
  return ipFamily(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/**
 * Deno's resolver waits 5 s, twice; with a signal, 1 s once (so that
 * cancelled questions end soon).
 */
function newResolver(signal: AbortSignal | undefined): Resolver {
  return signal
    ? new (builtin("node:dns").Resolver)({ timeout: 1000, tries: 1 })
    : new (builtin("node:dns").Resolver)({ timeout: 5000, tries: 2 });
}

/**
 * A `Runtime.resolveDns` through `node:dns`, which asks for the types of
 * `rawTypes` over UDP itself (where the runtime's `node:dns` reads them
 * unlike Deno). The signal cancels the question (the caller then throws the
 * signal's reason, as Deno does).
 */
export function nodeDnsResolver(
  rawTypes: readonly string[] = [],
): (question: DnsQuestion) => Promise<DnsRecord[]> {
  return (question) => resolveWithNodeDns(question, rawTypes);
}

async function resolveWithNodeDns(
  question: DnsQuestion,
  rawTypes: readonly string[],
): Promise<DnsRecord[]> {
  const { recordType, signal, nameServer } = question;
  const resolver = newResolver(signal);
  if (nameServer) {
    resolver.setServers([serverString(nameServer.ipAddr, nameServer.port)]);
  }
  if (!C_ARES_TYPES.has(recordType) || rawTypes.includes(recordType)) {
    const server = nameServer ?? systemServer(resolver);
    return await askRaw(question, server);
  }
  const onAbort = () => resolver.cancel();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const answers = await new Promise<unknown[]>((resolve, reject) => {
      resolver.resolve(
        question.name,
        recordType,
        // SOA comes as one object, the others as an array.
        (err: Error | null, records: unknown) =>
          err
            ? reject(err)
            : resolve(Array.isArray(records) ? records : [records]),
      );
    });
    return answers.map((r) => shape(recordType, r));
  } catch (err) {
    signal?.throwIfAborted();
    throw translate(err, question);
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/** The first server of the system's configuration, as `getServers` lists it. */
function systemServer(resolver: Resolver): { ipAddr: string; port: number } {
  const first = resolver.getServers()[0];
  if (!first) throw DnsError.timedOut();
  const m = /^\[(.*)\]:(\d+)$/.exec(first) ??
    /^([^:]*):(\d+)$/.exec(first);
  return m ? { ipAddr: m[1], port: Number(m[2]) } : { ipAddr: first, port: 53 };
}
