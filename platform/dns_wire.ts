/**
 * One DNS question over UDP, for the record types `node:dns` cannot ask for
 * (`ANAME`, and the rarer types Deno's resolver knows by name), and for
 * `TXT` where a runtime's `node:dns` reads it unlike Deno: the answer read
 * as far as Deno reads it. `ANAME` records become names, `TXT` records
 * their character strings (bytes as Latin-1); any record of another of these
 * types is one Deno does not turn into a value (`NotSupported`), and no
 * record at all is `NotFound`. Answers too long for one datagram (1232
 * bytes) are not asked again over TCP.
 *
 * @module
 */
import { ipFamily } from "../core/ip.ts";
import { builtin } from "./builtin.ts";
import { DnsError } from "../core/messages.ts";
import type { DnsQuestion, DnsRecord } from "./types.ts";

/** The wire codes of the types that go out this way. */
const TYPE_CODES: Readonly<Record<string, number>> = {
  TXT: 16,
  ANAME: 65305,
  ANY: 255,
  AXFR: 252,
  CDS: 59,
  CDNSKEY: 60,
  CERT: 37,
  CSYNC: 62,
  DNSKEY: 48,
  DS: 43,
  HINFO: 13,
  HTTPS: 65,
  IXFR: 251,
  KEY: 25,
  NSEC: 47,
  NSEC3: 50,
  NSEC3PARAM: 51,
  NULL: 10,
  OPENPGPKEY: 61,
  OPT: 41,
  RRSIG: 46,
  SIG: 24,
  SSHFP: 44,
  SVCB: 64,
  TLSA: 52,
  TSIG: 250,
  ZERO: 0,
};

/** The types read here: code and reader of one record's data. */
const READERS: Readonly<
  Record<
    string,
    [number, (buf: Uint8Array, at: number, end: number) => DnsRecord]
  >
> = {
  ANAME: [65305, (buf, at) => readName(buf, at)[0]],
  TXT: [16, readStrings],
};

/** A TXT record's character strings, each byte a Latin-1 character. */
function readStrings(buf: Uint8Array, at: number, end: number): string[] {
  const strings: string[] = [];
  while (at < end) {
    const len = buf[at];
    strings.push(String.fromCharCode(...buf.subarray(at + 1, at + 1 + len)));
    at += 1 + len;
  }
  return strings;
}

/** The question: recursion desired, with an EDNS0 record as Deno's resolver sends. */
function encodeQuery(id: number, name: string, type: number): Uint8Array {
  const labels = name.split(".").filter((l) => l !== "");
  const nameBytes = labels.reduce((n, l) => n + 1 + l.length, 1);
  const buf = new Uint8Array(12 + nameBytes + 4 + 11);
  const view = new DataView(buf.buffer);
  view.setUint16(0, id);
  view.setUint16(2, 0x0100);
  view.setUint16(4, 1); // one question
  view.setUint16(10, 1); // one additional record: OPT
  let at = 12;
  for (const label of labels) {
    buf[at++] = label.length;
    for (let i = 0; i < label.length; i++) buf[at++] = label.charCodeAt(i);
  }
  buf[at++] = 0;
  view.setUint16(at, type);
  view.setUint16(at + 2, 1); // IN
  at += 4;
  buf[at] = 0; // OPT: the root name, then type, payload size, TTL, length
  view.setUint16(at + 1, 41);
  view.setUint16(at + 3, 1232);
  return buf;
}

/** The (possibly compressed) name at `at`, and where the record goes on. */
function readName(buf: Uint8Array, at: number): [string, number] {
  const labels: string[] = [];
  let end = -1;
  // Each pointer jumps backwards at most once per byte: bounded by the length.
  for (let jumps = 0; jumps <= buf.length; jumps++) {
    const len = buf[at];
    if (len === undefined) break;
    if ((len & 0xc0) === 0xc0) {
      if (end < 0) end = at + 2;
      at = ((len & 0x3f) << 8) | buf[at + 1];
      continue;
    }
    if (len === 0) {
      if (end < 0) end = at + 1;
      break;
    }
    labels.push(String.fromCharCode(...buf.subarray(at + 1, at + 1 + len)));
    at += 1 + len;
  }
  return [labels.length ? `${labels.join(".")}.` : ".", end];
}

/** The records of an answer, as Deno gives those of `type`. */
function decodeAnswer(
  buf: Uint8Array,
  id: number,
  question: DnsQuestion,
): DnsRecord[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length < 12 || view.getUint16(0) !== id) {
    throw DnsError.notFound(question.shown, question.recordType);
  }
  const rcode = view.getUint16(2) & 0x0f;
  const questions = view.getUint16(4);
  const answers = view.getUint16(6);
  if (rcode !== 0 || answers === 0) {
    throw DnsError.notFound(question.shown, question.recordType);
  }
  let at = 12;
  for (let i = 0; i < questions; i++) at = readName(buf, at)[1] + 4;
  const records: DnsRecord[] = [];
  for (let i = 0; i < answers; i++) {
    at = readName(buf, at)[1];
    const type = view.getUint16(at);
    const length = view.getUint16(at + 8);
    const data = at + 10;
    const reader = READERS[question.recordType];
    if (!reader) throw DnsError.unsupportedRecordType();
    // Other types in the answer (a CNAME on the way) are not Deno's values.
    if (type === reader[0]) {
      records.push(reader[1](buf, data, data + length));
    }
    at = data + length;
  }
  return records;
}

/**
 * Sends `question` to `server` over UDP and reads the answer; times out as
 * Deno's resolver does (1 s with a signal, otherwise 5 s twice).
 */
export function askRaw(
  question: DnsQuestion,
  server: { ipAddr: string; port: number },
): Promise<DnsRecord[]> {
  const { signal } = question;
  const id = Math.floor(Math.random() * 0x10000);
  const query = encodeQuery(id, question.name, TYPE_CODES[question.recordType]);
  const socket = builtin("node:dgram").createSocket(
    ipFamily(server.ipAddr) === 6 ? "udp6" : "udp4",
  );
  let tries = signal ? 1 : 2;
  const wait = signal ? 1000 : 5000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort = (): void => {};
  return new Promise<DnsRecord[]>((resolve, reject) => {
    const send = () => {
      tries--;
      socket.send(query);
      timer = setTimeout(
        () => tries > 0 ? send() : reject(DnsError.timedOut()),
        wait,
      );
    };
    onAbort = () => reject(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    // A connected socket hears the port unreachable: no server there.
    socket.on("error", () => reject(DnsError.timedOut()));
    socket.on("message", (msg: Uint8Array) => {
      try {
        resolve(decodeAnswer(msg, id, question));
      } catch (err) {
        reject(err);
      }
    });
    socket.connect(server.port, server.ipAddr, send);
  }).finally(() => {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
    socket.close();
  });
}
