/**
 * DNS: `resolveDns` and its record types, after `resolveDns` in Deno's
 * `ext/net/01_net.js`, over `op_dns_resolve` (`ops/ops_dns.ts`).
 *
 * @module
 */
import { op_cancel_handle, op_dns_resolve, tryClose } from "../ops/mod.ts";

/**
 * The record types `resolveDns` turns into values, as `Deno.RecordType`.
 *
 * @example
 * ```ts
 * import type { RecordType } from "@reuseport/net";
 *
 * const type: RecordType = "AAAA";
 * console.log(type);
 * ```
 */
export type RecordType =
  | "A"
  | "AAAA"
  | "ANAME"
  | "CAA"
  | "CNAME"
  | "MX"
  | "NAPTR"
  | "NS"
  | "PTR"
  | "SOA"
  | "SRV"
  | "TXT";

/**
 * Options of `resolveDns`, as `Deno.ResolveDnsOptions`.
 *
 * @example
 * ```ts
 * import type { ResolveDnsOptions } from "@reuseport/net";
 *
 * const options: ResolveDnsOptions = {
 *   nameServer: { ipAddr: "127.0.0.1", port: 5353 },
 *   signal: AbortSignal.timeout(2_000),
 * };
 * console.log(options.nameServer?.port);
 * ```
 */
export interface ResolveDnsOptions {
  /** The name server to ask; absent: the system's (`/etc/resolv.conf`). */
  nameServer?: {
    /** Its IP address. */
    ipAddr: string;
    /** Its port; 53 by default. */
    port?: number;
  };
  /** Aborts the question: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * A `CAA` record, as `Deno.CaaRecord`.
 *
 * @example
 * ```ts
 * import type { CaaRecord } from "@reuseport/net";
 *
 * const caa: CaaRecord = { critical: false, tag: "issue", value: "ca.test" };
 * console.log(caa.tag);
 * ```
 */
export interface CaaRecord {
  /** Whether an issuer must understand the tag (the flags' high bit). */
  critical: boolean;
  /** The property: `issue`, `issuewild`, `iodef`, ... */
  tag: string;
  /** The property's value. */
  value: string;
}

/**
 * An `MX` record, as `Deno.MxRecord`.
 *
 * @example
 * ```ts
 * import type { MxRecord } from "@reuseport/net";
 *
 * const mx: MxRecord = { preference: 10, exchange: "mail.example.test." };
 * console.log(mx.exchange);
 * ```
 */
export interface MxRecord {
  /** Lower is preferred. */
  preference: number;
  /** The mail server, absolute (with its trailing dot). */
  exchange: string;
}

/**
 * A `NAPTR` record, as `Deno.NaptrRecord`.
 *
 * @example
 * ```ts
 * import type { NaptrRecord } from "@reuseport/net";
 *
 * const naptr: NaptrRecord = {
 *   order: 100,
 *   preference: 10,
 *   flags: "S",
 *   services: "SIP+D2U",
 *   regexp: "",
 *   replacement: "_sip._udp.example.test.",
 * };
 * console.log(naptr.replacement);
 * ```
 */
export interface NaptrRecord {
  /** The order to process records in, lowest first. */
  order: number;
  /** Among equal `order`s, lower is preferred. */
  preference: number;
  /** The record's flags (`S`, `A`, `U`, `P`). */
  flags: string;
  /** The service parameters. */
  services: string;
  /** The substitution expression. */
  regexp: string;
  /** The next name to look up, absolute. */
  replacement: string;
}

/**
 * An `SOA` record, as `Deno.SoaRecord`.
 *
 * @example
 * ```ts
 * import type { SoaRecord } from "@reuseport/net";
 *
 * const soa: SoaRecord = {
 *   mname: "ns.example.test.",
 *   rname: "hostmaster.example.test.",
 *   serial: 1,
 *   refresh: 7200,
 *   retry: 3600,
 *   expire: 1209600,
 *   minimum: 600,
 * };
 * console.log(soa.serial);
 * ```
 */
export interface SoaRecord {
  /** The zone's primary name server, absolute. */
  mname: string;
  /** The zone's contact, as a name, absolute. */
  rname: string;
  /** The zone's version. */
  serial: number;
  /** Seconds between refreshes (signed, as Deno reads it). */
  refresh: number;
  /** Seconds before a failed refresh is retried (signed). */
  retry: number;
  /** Seconds after which the zone is no longer authoritative (signed). */
  expire: number;
  /** The TTL of negative answers. */
  minimum: number;
}

/**
 * An `SRV` record, as `Deno.SrvRecord`.
 *
 * @example
 * ```ts
 * import type { SrvRecord } from "@reuseport/net";
 *
 * const srv: SrvRecord = { priority: 10, weight: 5, port: 5060, target: "sip.example.test." };
 * console.log(srv.port);
 * ```
 */
export interface SrvRecord {
  /** Lower is preferred. */
  priority: number;
  /** Among equal priorities, the share of the load. */
  weight: number;
  /** The service's port. */
  port: number;
  /** The service's host, absolute. */
  target: string;
}

/**
 * Asks a name server for the records of `query`, as `Deno.resolveDns`:
 * `A`, `AAAA`, `ANAME`, `CNAME`, `NS` and `PTR` resolve to strings (names
 * absolute, with their trailing dot), `TXT` to arrays of strings, the others
 * to objects. No such records rejects with `NotFound`, no answer with
 * `TimedOut`, an aborted `signal` with its reason; bad arguments with Deno's
 * `TypeError`s and errors.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveDns } from "@reuseport/net";
 *
 * await assert.rejects(
 *   resolveDns("example.test", "A", { signal: AbortSignal.abort() }),
 *   { name: "AbortError" },
 * );
 * ```
 */
export function resolveDns(
  query: string,
  recordType: "A" | "AAAA" | "ANAME" | "CNAME" | "NS" | "PTR",
  options?: ResolveDnsOptions,
): Promise<string[]>;
/** `CAA` records.
 *
 * @example
 * ```ts
 * import { resolveDns } from "@reuseport/net";
 *
 * const records = await resolveDns("example.test", "CAA", { signal: AbortSignal.abort() })
 *   .catch(() => []);
 * console.log(records.length);
 * ```
 */
export function resolveDns(
  query: string,
  recordType: "CAA",
  options?: ResolveDnsOptions,
): Promise<CaaRecord[]>;
/** `MX` records.
 *
 * @example
 * ```ts
 * import { resolveDns } from "@reuseport/net";
 *
 * const records = await resolveDns("example.test", "MX", { signal: AbortSignal.abort() })
 *   .catch(() => []);
 * console.log(records.length);
 * ```
 */
export function resolveDns(
  query: string,
  recordType: "MX",
  options?: ResolveDnsOptions,
): Promise<MxRecord[]>;
/** `NAPTR` records.
 *
 * @example
 * ```ts
 * import { resolveDns } from "@reuseport/net";
 *
 * const records = await resolveDns("example.test", "NAPTR", { signal: AbortSignal.abort() })
 *   .catch(() => []);
 * console.log(records.length);
 * ```
 */
export function resolveDns(
  query: string,
  recordType: "NAPTR",
  options?: ResolveDnsOptions,
): Promise<NaptrRecord[]>;
/** `SOA` records.
 *
 * @example
 * ```ts
 * import { resolveDns } from "@reuseport/net";
 *
 * const records = await resolveDns("example.test", "SOA", { signal: AbortSignal.abort() })
 *   .catch(() => []);
 * console.log(records.length);
 * ```
 */
export function resolveDns(
  query: string,
  recordType: "SOA",
  options?: ResolveDnsOptions,
): Promise<SoaRecord[]>;
/** `SRV` records.
 *
 * @example
 * ```ts
 * import { resolveDns } from "@reuseport/net";
 *
 * const records = await resolveDns("example.test", "SRV", { signal: AbortSignal.abort() })
 *   .catch(() => []);
 * console.log(records.length);
 * ```
 */
export function resolveDns(
  query: string,
  recordType: "SRV",
  options?: ResolveDnsOptions,
): Promise<SrvRecord[]>;
/**
 * `TXT` records: each an array of its character strings.
 *
 * @example
 * ```ts
 * import { resolveDns } from "@reuseport/net";
 *
 * const records = await resolveDns("example.test", "TXT", { signal: AbortSignal.abort() })
 *   .catch(() => []);
 * console.log(records.length);
 * ```
 */
export function resolveDns(
  query: string,
  recordType: "TXT",
  options?: ResolveDnsOptions,
): Promise<string[][]>;
/**
 * A record type known only at run time.
 *
 * @example
 * ```ts
 * import { type RecordType, resolveDns } from "@reuseport/net";
 *
 * const type = "MX" as RecordType;
 * const records = await resolveDns("example.test", type, { signal: AbortSignal.abort() })
 *   .catch(() => []);
 * console.log(records.length);
 * ```
 */
export function resolveDns(
  query: string,
  recordType: RecordType,
  options?: ResolveDnsOptions,
): Promise<
  | string[]
  | CaaRecord[]
  | MxRecord[]
  | NaptrRecord[]
  | SoaRecord[]
  | SrvRecord[]
  | string[][]
>;
/**
 * The implementation of every overload above.
 *
 * @example
 * ```ts
 * import { resolveDns } from "@reuseport/net";
 *
 * const records = await resolveDns("example.test", "A", { signal: AbortSignal.abort() })
 *   .catch(() => []);
 * console.log(records.length);
 * ```
 */
export async function resolveDns(
  query: string,
  recordType: RecordType,
  options?: ResolveDnsOptions,
): Promise<unknown[]> {
  const signal = options?.signal;
  signal?.throwIfAborted();
  let cancelRid: number | undefined;
  let abortHandler: (() => void) | undefined;
  try {
    if (signal) {
      const rid = op_cancel_handle();
      cancelRid = rid;
      abortHandler = () => tryClose(rid);
      signal.addEventListener("abort", abortHandler, { once: true });
    }
    return await op_dns_resolve({ cancelRid, query, recordType, options });
  } finally {
    // The op takes the handle on its normal path; close it here too in case
    // it returned before taking it.
    if (cancelRid !== undefined) tryClose(cancelRid);
    if (abortHandler) signal!.removeEventListener("abort", abortHandler);
    // Aborted: the signal's reason, whatever the op ended with.
    signal?.throwIfAborted();
  }
}
