/**
 * A `resolveDns` query parsed as Deno's resolver (hickory) parses one: its
 * errors, the ASCII name it asks for, and the name it shows in `NotFound`.
 *
 * @module
 */
import { builtin } from "../platform/builtin.ts";
import { DnsError } from "../core/messages.ts";

/** A parsed query name. */
export interface QueryName {
  /** The name to ask: ASCII (IDNA), absolute. */
  name: string;
  /** The name as Deno shows it: labels as hickory keeps them, absolute. */
  shown: string;
}

/** What a label may hold where hickory takes it as ASCII (`_service` labels). */
function safeAscii(label: string): boolean {
  return /^[A-Za-z0-9_*][A-Za-z0-9_-]*$/.test(label);
}

/** One label: `[ascii, shown]`, or hickory's error for it. */
function parseLabel(label: string): [string, string] {
  if (label === "*") return [label, label];
  let ascii = label;
  let shown = label;
  // hickory takes `_service` labels (SRV) as they are, the others through
  // IDNA with the host name rules (lower case, letters, digits, hyphens).
  if (!label.startsWith("_")) {
    if (!/[^\p{ASCII}]/u.test(label)) {
      ascii = label.toLowerCase();
      if (/[^a-z0-9-]/.test(ascii)) throw DnsError.invalidLabelChars();
      shown = ascii;
    } else {
      ascii = builtin("node:url").domainToASCII(label);
      if (ascii === "" || ascii.includes(".")) {
        throw DnsError.invalidLabelChars();
      }
      shown = builtin("node:url").domainToUnicode(ascii);
    }
  }
  if (ascii.length > 63) throw DnsError.labelTooLong(ascii.length);
  if (ascii === "" || !safeAscii(ascii)) throw DnsError.malformedLabel(ascii);
  return [ascii, shown];
}

/**
 * Parses `query` as Deno does before it asks: spaces and control characters,
 * empty labels, bad labels and over-long names throw Deno's errors.
 */
export function parseQueryName(query: string): QueryName {
  const raw: string[] = [];
  let current = "";
  let dotted = false;
  for (const char of query) {
    if (char === ".") {
      raw.push(current);
      current = "";
      dotted = true;
      continue;
    }
    if (/[\s\p{Cc}]/u.test(char)) throw DnsError.unrecognizedChar(char);
    current += char;
    dotted = false;
  }
  if (current !== "" || (!dotted && raw.length > 0)) raw.push(current);
  // "." alone is the root, as "" is.
  if (query === ".") raw.length = 0;
  const labels = raw.map(parseLabel);
  const bytes = labels.reduce((n, [ascii]) => n + 1 + ascii.length, 1);
  if (bytes > 255) throw DnsError.nameTooLong(bytes);
  const join = (i: 0 | 1) =>
    labels.length ? `${labels.map((l) => l[i]).join(".")}.` : ".";
  return { name: join(0), shown: join(1) };
}
