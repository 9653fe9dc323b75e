/**
 * Every error that this package words itself, in Deno's words, by what went
 * wrong: one table, as Deno keeps its own in the `NetError` enum of
 * `ext/net/ops.rs` (and core's resource errors). OS errors get their text
 * from the OS table in `platform/errno.ts` instead.
 *
 * @module
 */
import {
  AddrInUse,
  BadResource,
  BrokenPipe,
  Busy,
  Interrupted,
  InvalidData,
  NotConnected,
  NotFound,
  NotSupported,
  TimedOut,
  UnexpectedEof,
} from "./errors.ts";

/**
 * How `NetError.unixThreadsCannotShare` ends: the parallel runner, whose
 * `auto` mode chose threads, knows by it that its module listens on a Unix
 * socket that threads cannot share, and starts processes instead.
 */
export const UNIX_THREADS_ADVICE =
  "the kernel cannot balance a Unix socket between sockets of their own. Use processes: reuseport serve --parallel --processes";

/** Deno's errors, each made fresh (with its own stack) where it is thrown. */
export const NetError = {
  /** An accept on, or of, a listener that is closed. */
  listenerClosed: (): BadResource =>
    new BadResource("Listener has been closed"),
  /** A second `accept()` while one is pending on the same listener. */
  acceptBusy: (): Busy => new Busy("Another accept task is ongoing"),
  /** A rid that is not open, or not of the kind the op wants. */
  badResourceId: (): BadResource => new BadResource("Bad resource ID"),
  /** A read or write cut short by `close()`. */
  canceled: (): Interrupted => new Interrupted("operation canceled"),
  /** A write after `closeWrite()`. */
  brokenPipe: (): BrokenPipe => new BrokenPipe("Broken pipe (os error 32)"),
  /** `read` / `write` given something that is not a `Uint8Array`. */
  notABuffer: (): TypeError => new TypeError("expected typed ArrayBufferView"),
  /** An op on a datagram socket that is closed (Deno's `NetError::SocketClosed`). */
  socketClosed: (): BadResource => new BadResource("Socket has been closed"),
  /** A datagram op given something other than a number where Deno's op wants one (a port). */
  expectedNumber: (): TypeError =>
    new TypeError("expected type `v8::data::Number`, got `v8::data::Value`"),
  /** A multicast group or interface that is not an IPv4 (`v6`: IPv6) literal. */
  invalidIpSyntax: (v6: boolean): Error =>
    new Error(`invalid IPv${v6 ? 6 : 4} address syntax`),
  /** `listen` / `connect` with a transport other than TCP. */
  unsupportedTransport: (transport: unknown): TypeError =>
    new TypeError(`Unsupported transport: '${transport}'`),
  /** A port that is neither a number nor a string. */
  portNotANumber: (value: unknown): TypeError =>
    new TypeError(`Invalid port (expected number): ${value}`),
  /** A port that is not an integer; `shown` is it as Deno shows it. */
  invalidPort: (shown: string): TypeError =>
    new TypeError(`Invalid port: ${shown}`),
  /** An integer port outside the range. */
  portOutOfRange: (value: unknown): RangeError =>
    new RangeError(`Invalid port (out of range): ${value}`),
  /** `[...]` that is not an IPv6 address. */
  invalidIpv6: (hostname: string): URIError =>
    new URIError(`invalid IPv6 address: '${hostname}'`),
  /** An empty host name. */
  emptyHost: (hostname: string): URIError =>
    new URIError(`invalid empty host: '${hostname}'`),
  /** A host name with a character no DNS name has. */
  invalidHostChar: (hostname: string): URIError =>
    new URIError(`invalid host '${hostname}': invalid char found in FQDN`),
  /** A host name with an empty label (`a..b`). */
  emptyHostLabel: (hostname: string): URIError =>
    new URIError(`invalid host '${hostname}': empty label found in FQDN`),
  /** A Unix socket path that does not fit `sockaddr_un`'s `sun_path`. */
  unixPathTooLong: (): TypeError =>
    new TypeError("path must be shorter than SUN_LEN"),
  /** A Linux abstract socket name that does not fit `sun_path`. */
  abstractNameTooLong: (): TypeError =>
    new TypeError("abstract socket name must be shorter than SUN_LEN"),
  /** A Unix socket path with a NUL byte inside it. */
  unixPathNul: (): TypeError =>
    new TypeError("paths must not contain interior null bytes"),
  /** A connect to an empty Unix socket path: the kernel's `EINVAL`. */
  unixPathInvalid: (): TypeError =>
    new TypeError("Invalid argument (os error 22)"),
  /** `listen` on an empty path (Linux autobind) where the runtime cannot report the name the kernel picked. */
  unixAutobind: (runtime: string): NotSupported =>
    new NotSupported(
      `an empty Unix socket path asks the kernel to pick an abstract name, and ${runtime} cannot report the name it picked: give a path or an abstract name ("\\0name")`,
    ),
  /** A Linux abstract name of the full 108 bytes, where the runtime takes one byte less. */
  abstractNameFull: (runtime: string): NotSupported =>
    new NotSupported(
      `${runtime} takes Linux abstract socket names of at most 107 bytes (its "\\0" included); Deno takes 108`,
    ),
  /** A runtime without Unix domain sockets. */
  unixUnsupported: (runtime: string): NotSupported =>
    new NotSupported(`${runtime} has no Unix domain sockets here`),
  /** `listenDatagram({ transport: "unixpacket" })` where the runtime has no Unix datagram socket. */
  unixDatagramUnsupported: (reason: string): NotSupported =>
    new NotSupported(
      `Unix datagram sockets (transport "unixpacket") are not available: ${reason}`,
    ),
  /**
   * A worker thread's shared listener found its address taken and cannot
   * join it: `err`'s message, why (`reason`: why sockets cannot move between
   * this runtime's threads), and what to use instead.
   */
  threadsCannotShare: (err: Error, reason: string): AddrInUse =>
    new AddrInUse(
      `${err.message}: another listener holds this address, and if it is in another thread of this process, ${reason}. ` +
        "Use the kernel strategy (reusePort where the kernel balances; strategyFor() tells whether it does here) or processes: reuseport serve --parallel --processes",
    ),
  /**
   * A shared (`loadBalanced`) Unix listener of a worker thread found its path
   * taken and cannot join it: Unix socket connections cannot move between
   * this runtime's threads (`reason`), and no kernel balances a path.
   */
  unixThreadsCannotShare: (err: Error, reason: string): AddrInUse =>
    new AddrInUse(
      `${err.message}: another listener holds this path, and if it is in another thread of this process, ${reason}; ` +
        UNIX_THREADS_ADVICE,
    ),
  /**
   * A shared (`loadBalanced`) Unix listener found its path taken where the
   * runtime cannot move connections at all (Deno): no thread or process can
   * join another's socket, and no kernel balances a path.
   */
  unixCannotShare: (err: Error, runtime: string): AddrInUse =>
    new AddrInUse(
      `${err.message}: another listener holds this path, and if it is another worker or process of the parallel runner, ${runtime} cannot pass Unix socket connections between them, ` +
        "and the kernel cannot balance a Unix socket between sockets of their own. Run the parallel runner on Node or Bun (its processes share one socket), or listen on TCP with reusePort",
    ),
  /** `startTls` on a connection with a read or write pending. */
  tcpStreamBusy: (): Busy => new Busy("TCP stream is currently in use"),
  /** A TLS server name that is not a DNS name or an IP address. */
  invalidHostname: (hostname: string): TypeError =>
    new TypeError(`Invalid hostname: '${hostname}'`),
  /** A `cert` with no PEM certificate in it. */
  noCertificates: (): InvalidData =>
    new InvalidData("No certificates found in certificate data"),
  /** A `key` with no PEM private key in it. */
  noKeys: (): InvalidData => new InvalidData("No keys found in key data"),
  /** `listenTls` without a key pair. */
  keyPairRequired: (api: string): TypeError =>
    new TypeError(`A key and certificate are required for \`${api}\``),
  /** `cert` without `key`, or `key` without `cert`. */
  keyPairHalf: (given: "cert" | "key", api: string): TypeError =>
    new TypeError(
      `If \`${given}\` is specified, \`${
        given === "cert" ? "key" : "cert"
      }\` must be specified as well for \`${api}\``,
    ),
  /** A `keyFormat` other than PEM. */
  keyFormatNotPem: (format: unknown): TypeError =>
    new TypeError(
      `If "keyFormat" is specified, it must be "pem": received "${format}"`,
    ),
  /** A TLS write after `closeWrite()`. */
  tlsWriteShut: (): NotConnected => new NotConnected("not connected"),
  /** A PEM certificate whose body does not decode. */
  badCertificate: (): InvalidData =>
    new InvalidData("Unable to decode certificate"),
  /** A PEM key whose body does not decode. */
  badKey: (): InvalidData => new InvalidData("Unable to decode key"),
  /** A key that is not the certificate's (Deno throws no class of its own). */
  keyMismatch: (): Error =>
    new Error("keys may not be consistent: KeyMismatch"),
  /** The peer went away during the TLS handshake. */
  tlsEof: (): UnexpectedEof => new UnexpectedEof("unexpected end of file"),
  /** A TLS failure, in rustls's words as Deno reports them. */
  tlsInvalid: (message: string): InvalidData => new InvalidData(message),
} as const;

/**
 * The record types Deno's resolver (hickory) knows by name: what
 * `resolveDns` accepts as its `recordType` before it asks a server.
 */
export const DNS_RECORD_TYPES: readonly string[] = [
  "A",
  "AAAA",
  "ANAME",
  "ANY",
  "AXFR",
  "CAA",
  "CDS",
  "CDNSKEY",
  "CERT",
  "CNAME",
  "CSYNC",
  "DNSKEY",
  "DS",
  "HINFO",
  "HTTPS",
  "IXFR",
  "KEY",
  "MX",
  "NAPTR",
  "NS",
  "NSEC",
  "NSEC3",
  "NSEC3PARAM",
  "NULL",
  "OPENPGPKEY",
  "OPT",
  "PTR",
  "RRSIG",
  "SIG",
  "SOA",
  "SRV",
  "SSHFP",
  "SVCB",
  "TLSA",
  "TSIG",
  "TXT",
  "Unknown",
  "ZERO",
];

/**
 * `resolveDns`' errors in Deno's words: its argument decoding (serde_v8),
 * its name parsing and its resolver's (hickory's) answers.
 */
export const DnsError = {
  /** A `recordType` string that names no record type. */
  unknownRecordType: (name: string): TypeError =>
    new TypeError(
      `unknown variant \`${name}\`, expected one of ${
        DNS_RECORD_TYPES.map((t) => `\`${t}\``).join(", ")
      }`,
    ),
  /** A `recordType` that is not a string; `got` is what serde_v8 calls it. */
  recordTypeNotEnum: (got: string): TypeError =>
    new TypeError(`serde_v8 error: invalid type; expected: enum, got: ${got}`),
  /** A `recordType` object with other than one key. */
  recordTypeLength: (keys: number): TypeError =>
    new TypeError(
      `serde_v8 error: length mismatch, got: ${keys}, expected: 1`,
    ),
  /** `"Unknown"`, which needs a number that a string cannot give. */
  recordTypeUnknown: (): TypeError =>
    new TypeError(
      "serde_v8 error: invalid type; expected: integer, got: undefined",
    ),
  /** `options` or `nameServer` that is not an object. */
  notAnObject: (): TypeError =>
    new TypeError("expected type `v8::data::Object`, got `v8::data::Value`"),
  /** `nameServer.port` that is not a number. */
  portNotANumber: (): TypeError =>
    new TypeError("expected type `v8::data::Number`, got `v8::data::Value`"),
  /** `nameServer.ipAddr` that is not an IP address. */
  invalidIp: (): Error => new Error("invalid IP address syntax"),
  /** `nameServer.port` 0: the OS refuses to send there. */
  portZero: (): Error =>
    new Error("proto error: io error: Invalid argument (os error 22)"),
  /** A query with a space or a control character. */
  unrecognizedChar: (char: string): Error =>
    new Error(`proto error: unrecognized char: ${char}`),
  /** A query with an empty label, or a label that starts with `-`. */
  malformedLabel: (label: string): Error =>
    new Error(`proto error: Malformed label: ${label}`),
  /** A query label with a character no host name has. */
  invalidLabelChars: (): Error =>
    new Error("proto error: Label contains invalid characters: Err(Errors)"),
  /** A query label over 63 bytes. */
  labelTooLong: (bytes: number): Error =>
    new Error(`proto error: label bytes exceed 63: ${bytes}`),
  /** A query over 255 bytes on the wire. */
  nameTooLong: (bytes: number): Error =>
    new Error(`proto error: name label data exceed 255: ${bytes}`),
  /** No record of the type: no such name, no data, or the server refused. */
  notFound: (name: string, recordType: string): NotFound =>
    new NotFound(
      `proto error: no records found for Query { name: Name("${name}"), query_type: ${recordType}, query_class: IN }`,
    ),
  /** No answer from the name server in time (or it refused the port). */
  timedOut: (): TimedOut => new TimedOut("proto error: request timed out"),
  /** A runtime adapter without a resolver (a test's fake runtime). */
  unavailable: (runtime: string): NotSupported =>
    new NotSupported(`resolveDns is not available on ${runtime}`),
  /** Records of a type Deno does not turn into JavaScript values. */
  unsupportedRecordType: (): NotSupported =>
    new NotSupported("Provided record type is not supported"),
} as const;
