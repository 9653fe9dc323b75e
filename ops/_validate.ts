/**
 * Argument checks with Deno's exact messages: ports as `Deno.listen` and
 * `Deno.connect` check them, host names as Deno's address parser does.
 *
 * @module
 */
import { ipFamily } from "../core/ip.ts";
import { NetError } from "../core/messages.ts";

/**
 * The port `value` names, or Deno's error: numbers and numeric strings are
 * accepted (`Number()` semantics, so `"0x10"` is 16), anything else is a
 * `TypeError`, and integers outside `min`–65535 a `RangeError`.
 */
export function validatePort(value: unknown, min = 0): number {
  if (typeof value !== "number" && typeof value !== "string") {
    throw NetError.portNotANumber(value);
  }
  if (value === "") throw NetError.invalidPort("''");
  const port = Number(value);
  if (!Number.isInteger(port)) {
    throw NetError.invalidPort(
      Number.isNaN(port) && typeof value === "string"
        ? `'${value}'`
        : String(value),
    );
  }
  if (port < min || port > 65535) {
    throw NetError.portOutOfRange(value);
  }
  return port;
}

/**
 * Checks a host name the way Deno does before it resolves one, and strips the
 * brackets from `[v6]`. Throws `URIError` with Deno's message.
 */
export function validateHostname(hostname: string): string {
  if (hostname.startsWith("[") && hostname.endsWith("]")) {
    const inner = hostname.slice(1, -1);
    if (ipFamily(inner) !== 6) {
      throw NetError.invalidIpv6(hostname);
    }
    return inner;
  }
  if (ipFamily(hostname)) return hostname;
  if (hostname === "" || hostname === ".") {
    throw NetError.emptyHost(hostname);
  }
  if (/[^A-Za-z0-9._#-]/.test(hostname)) {
    throw NetError.invalidHostChar(hostname);
  }
  if (hostname.replace(/\.$/, "").split(".").includes("")) {
    throw NetError.emptyHostLabel(hostname);
  }
  return hostname;
}

/** Whether `hostname` needs no resolver: an IP literal, or `localhost`. */
export function literalAddress(hostname: string): string | undefined {
  if (ipFamily(hostname)) return hostname;
  if (hostname.toLowerCase() === "localhost") return "127.0.0.1";
  return undefined;
}

/** PEM blocks of `text` whose label ends with `suffix`, as their DER bytes (`null`: not base64). */
function pemBlocks(text: string, suffix: string): (Uint8Array | null)[] {
  const blocks: (Uint8Array | null)[] = [];
  const pattern = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (const [, label, body] of text.matchAll(pattern)) {
    if (!label.endsWith(suffix)) continue;
    const base64 = body.replace(/\s+/g, "");
    blocks.push(
      /^[A-Za-z0-9+/]+={0,2}$/.test(base64) && base64.length % 4 === 0
        ? Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))
        : null,
    );
  }
  return blocks;
}

/** Whether `der` starts as a DER SEQUENCE does, as certificates and keys do. */
function isDerSequence(der: Uint8Array | null): boolean {
  return der !== null && der.length > 2 && der[0] === 0x30;
}

/**
 * Checks a PEM key pair as Deno's `op_tls_key_static` does: `InvalidData`
 * when either holds no PEM block of its kind, or one that does not decode.
 */
export function validateKeyPair(cert: unknown, key: unknown): void {
  const certs = pemBlocks(String(cert), "CERTIFICATE");
  if (certs.length === 0) throw NetError.noCertificates();
  if (!certs.every(isDerSequence)) throw NetError.badCertificate();
  const keys = pemBlocks(String(key), "PRIVATE KEY");
  if (keys.length === 0) throw NetError.noKeys();
  if (!isDerSequence(keys[0])) throw NetError.badKey();
}
