/**
 * What the DNS tests serve and ask: dnsmasq's records (`tests/_dnsmasq.ts`),
 * the questions, and one runner that asks them of any `resolveDns` (native
 * Deno's in `_dns_oracle.ts`, ours in `dns_test.ts`) and describes each
 * outcome as JSON.
 *
 * @module
 */

/** The zone the records live in (a reserved name: never on the internet). */
export const ZONE = "dnstest.test";

/** `name` in DNS wire format, as dnsmasq's `dns-rr` takes data: hex bytes. */
function wireName(name: string): string {
  const bytes = name.split(".").flatMap((label) => [
    label.length,
    ...[...label].map((c) => c.charCodeAt(0)),
  ]);
  return [...bytes, 0].map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/**
 * dnsmasq's config lines: a record of every type it can serve. The zone is
 * authoritative (`auth-zone`), so that dnsmasq answers SOA and NS, and PTR
 * for the host records' addresses in its subnets.
 */
export const DNSMASQ_RECORDS: string[] = [
  `auth-zone=${ZONE},10.1.2.0/24,fd00::/64`,
  `auth-server=ns.${ZONE},127.0.0.1`,
  `auth-soa=2024010101,hostmaster.${ZONE},7200,3600,1209600`,
  `host-record=h.${ZONE},10.1.2.3,fd00::1`,
  `host-record=two.${ZONE},10.1.2.4`,
  `host-record=two.${ZONE},10.1.2.5`,
  `cname=c.${ZONE},h.${ZONE}`,
  `mx-host=mx.${ZONE},mail.${ZONE},10`,
  `mx-host=mx.${ZONE},mail2.${ZONE},20`,
  `txt-record=t.${ZONE},"v=spf1 -all","second part"`,
  `txt-record=latin.${ZONE},"caf\u00e9"`,
  `srv-host=_sip._tcp.${ZONE},sip.${ZONE},5060,10,5`,
  `naptr-record=n.${ZONE},100,10,S,SIP+D2U,,_sip._udp.${ZONE}`,
  `caa-record=caa.${ZONE},0,issue,letsencrypt.org`,
  `caa-record=caa.${ZONE},128,iodef,mailto:security@${ZONE}`,
  // Types dnsmasq has no option for, as raw data: an ANAME to h.<zone>, a
  // HINFO (a type Deno does not turn into values).
  `dns-rr=aname.${ZONE},65305,${wireName(`h.${ZONE}`)}`,
  `dns-rr=hinfo.${ZONE},13,03:63:70:75:02:6f:73`,
];

/** One question: a name, a record type, and what to send as `options` besides the server. */
export interface DnsCase {
  query: unknown;
  recordType: unknown;
  /** Replaces `nameServer`; `"omit-number"`: `options` is the number 1. */
  nameServer?: unknown;
  /** The server rotates the records: compare them sorted. */
  unordered?: boolean;
}

const z = (name: string) => `${name}.${ZONE}`;

/** Every question both sides ask, by label. */
export const dnsCases: Record<string, DnsCase> = {
  "A": { query: z("h"), recordType: "A" },
  "A, two records": { query: z("two"), recordType: "A", unordered: true },
  "AAAA": { query: z("h"), recordType: "AAAA" },
  "A through a CNAME": { query: z("c"), recordType: "A" },
  "CNAME": { query: z("c"), recordType: "CNAME" },
  "MX": { query: z("mx"), recordType: "MX" },
  "TXT": { query: z("t"), recordType: "TXT" },
  "TXT, bytes over 127": { query: z("latin"), recordType: "TXT" },
  "SRV": { query: `_sip._tcp.${ZONE}`, recordType: "SRV" },
  "PTR": { query: "3.2.1.10.in-addr.arpa", recordType: "PTR" },
  "PTR, IPv6": { query: `1.${"0.".repeat(29)}d.f.ip6.arpa`, recordType: "PTR" },
  "SOA of the reverse zone": {
    query: "2.1.10.in-addr.arpa",
    recordType: "SOA",
  },
  "NAPTR": { query: z("n"), recordType: "NAPTR" },
  "CAA": { query: z("caa"), recordType: "CAA" },
  "SOA": { query: ZONE, recordType: "SOA" },
  "NS": { query: ZONE, recordType: "NS" },
  "ANAME": { query: z("aname"), recordType: "ANAME" },
  "ANAME, none there": { query: z("h"), recordType: "ANAME" },
  "HINFO, records Deno cannot show": { query: z("hinfo"), recordType: "HINFO" },
  "upper case and a trailing dot": {
    query: `H.${ZONE.toUpperCase()}.`,
    recordType: "A",
  },
  "no such name": { query: z("nope"), recordType: "A" },
  "no such name, upper case": { query: `NOPE.${ZONE}`, recordType: "MX" },
  "no data of the type": { query: z("h"), recordType: "MX" },
  "outside the zone (refused)": { query: "example.com", recordType: "A" },
  "empty query": { query: "", recordType: "A" },
  "a label that is not ASCII (IDNA)": {
    query: `\u00c9t\u00e9.${ZONE}`,
    recordType: "A",
  },
  "a wildcard label and an _service label": {
    query: `*._Svc.${ZONE}`,
    recordType: "TXT",
  },
  "a number as query": { query: 123, recordType: "A" },
  "empty label": { query: "a..b", recordType: "A" },
  "space in the query": { query: "a b", recordType: "A" },
  "underscore inside a label": { query: "a_b.test", recordType: "A" },
  "label starting with a hyphen": { query: "-a.test", recordType: "A" },
  "label of 64 bytes": { query: `${"x".repeat(64)}.test`, recordType: "A" },
  "name over 255 bytes": {
    query: `${"x".repeat(60)}.`.repeat(5),
    recordType: "A",
  },
  "lower-case record type": { query: z("h"), recordType: "a" },
  "unknown record type": { query: z("h"), recordType: "BOGUS" },
  "record type Unknown": { query: z("h"), recordType: "Unknown" },
  "record type undefined": { query: z("h"), recordType: undefined },
  "record type null": { query: z("h"), recordType: null },
  "record type a number": { query: z("h"), recordType: 1 },
  "record type an object": { query: z("h"), recordType: {} },
  "HINFO (known, no records)": { query: z("h"), recordType: "HINFO" },
  "nameServer not an IP": {
    query: z("h"),
    recordType: "A",
    nameServer: { ipAddr: "nope" },
  },
  "nameServer in brackets": {
    query: z("h"),
    recordType: "A",
    nameServer: { ipAddr: "[::1]", port: 53 },
  },
  "nameServer without ipAddr": {
    query: z("h"),
    recordType: "A",
    nameServer: {},
  },
  "nameServer a string": {
    query: z("h"),
    recordType: "A",
    nameServer: "127.0.0.1",
  },
  "nameServer port a string": {
    query: z("h"),
    recordType: "A",
    nameServer: { ipAddr: "127.0.0.1", port: "53" },
  },
  "nameServer port 0": {
    query: z("h"),
    recordType: "A",
    nameServer: { ipAddr: "127.0.0.1", port: 0 },
  },
  "nameServer port NaN": {
    query: z("h"),
    recordType: "A",
    nameServer: { ipAddr: "127.0.0.1", port: NaN },
  },
  "options a number": {
    query: z("h"),
    recordType: "A",
    nameServer: "omit-number",
  },
};

/** A thrown value as JSON: class, `name` and message. */
export function describe(err: unknown): unknown {
  if (!(err instanceof Error)) return { thrown: String(err) };
  return { class: err.constructor.name, name: err.name, message: err.message };
}

type ResolveDns = (
  query: string,
  recordType: string,
  options?: unknown,
) => Promise<unknown>;

/** Asks every case of `dnsCases` of `resolveDns`, against the server at `port`. */
export async function runDnsCases(
  resolveDns: ResolveDns,
  port: number,
): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {};
  for (const [label, c] of Object.entries(dnsCases)) {
    const nameServer = "nameServer" in c
      ? c.nameServer
      : { ipAddr: "127.0.0.1", port };
    const options = nameServer === "omit-number" ? 1 : { nameServer };
    try {
      const value = await resolveDns(
        c.query as string,
        c.recordType as string,
        options,
      ) as unknown[];
      results[label] = {
        value: c.unordered ? [...value].sort() : value,
        // Deno's record objects have no prototype.
        bare: value.every((r) =>
          typeof r !== "object" || Array.isArray(r) ||
          Object.getPrototypeOf(r) === null
        ),
      };
    } catch (err) {
      results[label] = { error: describe(err) };
    }
  }
  return results;
}
