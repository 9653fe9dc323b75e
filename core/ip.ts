/**
 * IP literals told apart as `node:net`'s `isIP` tells them (Deno's Node
 * layer answers the same), without loading `node:net`: the address checks
 * run on every listen and connect, also on native Deno, whose own objects
 * need nothing else of Node's.
 *
 * @module
 */

/** A decimal byte as an IPv4 literal writes it: no sign, no leading zero. */
const V4_PART = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)$/;
/** One group of an IPv6 literal. */
const V6_GROUP = /^[0-9a-fA-F]{1,4}$/;
/** What a zone after `%` may hold. */
const ZONE = /^[0-9a-zA-Z.:-]+$/;

function isV4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 && parts.every((p) => V4_PART.test(p));
}

/** The number of 16-bit groups `groups` stands for (an IPv4 tail counts two); -1 if one is malformed. */
function width(groups: string[], v4Tail: boolean): number {
  let n = 0;
  for (let i = 0; i < groups.length; i++) {
    if (v4Tail && i === groups.length - 1) {
      if (!isV4(groups[i])) return -1;
      n += 2;
    } else if (V6_GROUP.test(groups[i])) n += 1;
    else return -1;
  }
  return n;
}

function isV6(text: string): boolean {
  const percent = text.indexOf("%");
  const address = percent === -1 ? text : text.slice(0, percent);
  if (percent !== -1 && !ZONE.test(text.slice(percent + 1))) return false;
  const halves = address.split("::");
  if (halves.length > 2) return false;
  const v4Tail = address.includes(".");
  if (halves.length === 1) return width(address.split(":"), v4Tail) === 8;
  const [head, tail] = halves;
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === "" ? [] : tail.split(":");
  // An IPv4 tail ends the address: never before the `::`.
  if (v4Tail && tailGroups.length === 0) return false;
  const before = width(headGroups, false);
  const after = width(tailGroups, v4Tail);
  // `::` stands for one group or more.
  return before >= 0 && after >= 0 && before + after <= 7;
}

/**
 * 4 for an IPv4 literal, 6 for an IPv6 one (with or without a `%zone`),
 * else 0: what `node:net`'s `isIP` answers.
 *
 * @example
 * ```ts
 * import { ipFamily } from "./ip.ts";
 *
 * console.log(ipFamily("127.0.0.1"), ipFamily("::1"), ipFamily("localhost")); // 4 6 0
 * ```
 */
export function ipFamily(text: string): 0 | 4 | 6 {
  if (isV4(text)) return 4;
  return text.includes(":") && isV6(text) ? 6 : 0;
}
