/**
 * The DNS op, with the name and argument shape of Deno's `op_dns_resolve`
 * (`ext/net/ops.rs`), and the cancel handle that `resolveDns` aborts it by.
 *
 * @module
 */
import { ipFamily } from "../core/ip.ts";
import { DNS_RECORD_TYPES, DnsError } from "../core/messages.ts";
import type { DnsRecord } from "../platform/types.ts";
import { parseQueryName } from "./_dns_name.ts";
import { type Resource, resourceTable } from "./resources.ts";
import { runtime } from "./runtime.ts";

export type { DnsRecord };

/**
 * The arguments of `op_dns_resolve`, as Deno's `ResolveAddrArgs`.
 *
 * @example
 * ```ts
 * import { type ResolveAddrArgs } from "@reuseport/net/ops";
 *
 * const args: ResolveAddrArgs = {
 *   query: "example.test",
 *   recordType: "A",
 *   options: { nameServer: { ipAddr: "127.0.0.1", port: 5353 } },
 * };
 * console.log(args.recordType);
 * ```
 */
export interface ResolveAddrArgs {
  /** A cancel handle (`op_cancel_handle`); closing it aborts the question. */
  cancelRid?: number;
  /** The name to resolve. */
  query: string;
  /** The record type, as `Deno.RecordType`. */
  recordType: string;
  /** Where to ask; absent or `null`: the system's name servers. */
  options?: {
    nameServer?: { ipAddr: string; port?: number } | null;
  } | null;
}

/** A cancel handle, as Deno's `CancelHandle` resource: closing it aborts what it was given to. */
class CancelHandle implements Resource {
  readonly name = "cancelHandle";
  readonly controller: AbortController = new AbortController();

  close(): void {
    this.controller.abort();
  }
}

/**
 * A new cancel handle in the resource table, as Deno's `op_cancel_handle`:
 * pass its rid as `cancelRid`, and close it to abort.
 *
 * @example
 * ```ts
 * import { op_cancel_handle, tryClose } from "@reuseport/net/ops";
 *
 * const rid = op_cancel_handle();
 * tryClose(rid);
 * ```
 */
export function op_cancel_handle(): number {
  return resourceTable.add(new CancelHandle());
}

/** How serde_v8 names a value that is not what it wanted. */
function serdeKind(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return "Boolean";
    case "number":
      return "Number";
    default:
      return typeof value;
  }
}

/** The record type Deno's op decodes from `value`, or its error. */
function recordTypeOf(value: unknown): string {
  if (typeof value === "object" && value !== null) {
    const keys = Object.keys(value);
    if (keys.length !== 1) throw DnsError.recordTypeLength(keys.length);
    value = keys[0];
  }
  if (typeof value !== "string") {
    throw DnsError.recordTypeNotEnum(serdeKind(value));
  }
  if (value === "Unknown") throw DnsError.recordTypeUnknown();
  if (!DNS_RECORD_TYPES.includes(value)) {
    throw DnsError.unknownRecordType(value);
  }
  return value;
}

/** Whether Rust's `IpAddr` parser takes `ip`: no zone, no leading zeros. */
function rustIp(ip: string): boolean {
  const family = ipFamily(ip);
  if (family === 6) return !ip.includes("%");
  return family === 4 && !/(^|\.)0\d/.test(ip);
}

/** The name server Deno's op decodes from `options`, or its error. */
function nameServerOf(
  options: unknown,
): { ipAddr: string; port: number } | undefined {
  if (options === undefined || options === null) return undefined;
  if (typeof options !== "object" && typeof options !== "function") {
    throw DnsError.notAnObject();
  }
  const ns = (options as { nameServer?: unknown }).nameServer;
  if (ns === undefined || ns === null) return undefined;
  if (typeof ns !== "object" && typeof ns !== "function") {
    throw DnsError.notAnObject();
  }
  const { ipAddr, port } = ns as { ipAddr?: unknown; port?: unknown };
  if (port !== undefined && typeof port !== "number") {
    throw DnsError.portNotANumber();
  }
  const ip = String(ipAddr);
  if (!rustIp(ip)) throw DnsError.invalidIp();
  // A JavaScript number becomes a u16 as Rust's `as` casts: truncated,
  // saturated, NaN as 0.
  const p = port === undefined
    ? 53
    : Number.isNaN(port)
    ? 0
    : Math.min(65535, Math.max(0, Math.trunc(port)));
  return { ipAddr: ip, port: p };
}

/**
 * Resolves `query`'s records of `recordType`, as Deno's `op_dns_resolve`:
 * the arguments decoded and checked with Deno's errors, then the question
 * asked of the runtime. Closing the cancel handle `cancelRid` aborts it (the
 * op takes the handle and closes it when done).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { op_dns_resolve } from "@reuseport/net/ops";
 *
 * await assert.rejects(
 *   op_dns_resolve({ query: "example.test", recordType: "NOPE" }),
 *   TypeError,
 * );
 * ```
 */
export async function op_dns_resolve(
  args: ResolveAddrArgs,
): Promise<DnsRecord[]> {
  const { cancelRid } = args;
  const handle = cancelRid === undefined
    ? undefined
    : resourceTable.find(cancelRid);
  try {
    const query = String(args.query);
    const recordType = recordTypeOf(args.recordType);
    const nameServer = nameServerOf(args.options);
    const { name, shown } = parseQueryName(query);
    if (nameServer?.port === 0) throw DnsError.portZero();
    const resolveDns = runtime().resolveDns;
    if (!resolveDns) throw DnsError.unavailable(runtime().name);
    return await resolveDns.call(runtime(), {
      query,
      name,
      shown,
      recordType,
      nameServer,
      signal: handle instanceof CancelHandle
        ? handle.controller.signal
        : undefined,
    });
  } finally {
    // The op takes the handle, as Deno's does; an abort may have closed it.
    if (
      handle instanceof CancelHandle && cancelRid !== undefined &&
      resourceTable.has(cancelRid)
    ) resourceTable.close(cancelRid);
  }
}
