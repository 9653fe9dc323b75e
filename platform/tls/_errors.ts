/**
 * What `node:tls` (OpenSSL) reports, as Deno (rustls) reports it: the class
 * and, where rustls words it, its message, so that a handshake that fails
 * fails alike on every runtime.
 *
 * @module
 */
import { NetError } from "../../core/messages.ts";
import { codeError } from "../errno.ts";

/** OpenSSL's verification codes that rustls calls an unknown issuer. */
const UNKNOWN_ISSUER = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
]);

/** What a TLS error of Node's carries besides its message. */
interface TlsFailure {
  code?: unknown;
  host?: string;
  cert?: { subjectaltname?: string };
  message: string;
}

/** `ALERT_UNKNOWN_CA` → `UnknownCA`, as rustls names its alerts. */
function alertName(words: string): string {
  return words.split("_").map((w) =>
    w === "CA" ? w : w[0] + w.slice(1).toLowerCase()
  ).join("");
}

/** rustls's list of the names a certificate is valid for. */
function presentedNames(altNames: string | undefined): string {
  return (altNames ?? "").split(", ").filter(Boolean).map((entry) => {
    const [kind, value] = entry.split(/:(.*)/s);
    return kind === "DNS"
      ? `DnsName(${JSON.stringify(value)})`
      : `IpAddress(${value})`;
  }).join(" or ");
}

/** rustls's words for an expired certificate, with the times it gives. */
function expired(cert: { valid_to?: string } | undefined): Error {
  const now = Math.floor(Date.now() / 1000);
  const notAfter = cert?.valid_to
    ? Math.floor(Date.parse(cert.valid_to) / 1000)
    : NaN;
  return NetError.tlsInvalid(
    "invalid peer certificate: certificate expired" +
      (Number.isFinite(notAfter)
        ? `: verification time ${now} (UNIX), but certificate is not valid after ${notAfter} (${
          now - notAfter
        } seconds ago)`
        : ""),
  );
}

/** Whether `node:tls` failed on bytes that are not a TLS record at all. */
export function isCorruptRecord(err: unknown): boolean {
  const { code, message } = err as TlsFailure;
  if (typeof code !== "string") return false;
  if (
    code === "ERR_SSL_WRONG_VERSION_NUMBER" ||
    code === "ERR_SSL_HTTP_REQUEST" ||
    code === "ERR_SSL_UNKNOWN_PROTOCOL" ||
    code === "ERR_SSL_PACKET_LENGTH_TOO_LONG"
  ) return true;
  // OpenSSL's reason, as `EPROTO` on a write.
  return (code === "EPROTO" || code.startsWith("ERR_SSL_")) &&
    !/_ALERT_/.test(code) &&
    /wrong version number|unknown record type|record type|packet length|http request/i
      .test(message);
}

/**
 * Deno's error for a failure `node:tls` reported; `handshaking` says whether
 * the handshake had not finished (an end then is an unexpected one).
 */
export function tlsError(
  err: unknown,
  handshaking: boolean,
  peerCertificate: () => { valid_to?: string } | undefined = () => undefined,
): Error {
  const { code, host, cert, message } = err as TlsFailure;
  if (typeof code !== "string") return err as Error;
  if (UNKNOWN_ISSUER.has(code)) {
    return NetError.tlsInvalid("invalid peer certificate: UnknownIssuer");
  }
  if (code === "CERT_HAS_EXPIRED") return expired(peerCertificate());
  if (code === "CERT_NOT_YET_VALID") {
    return NetError.tlsInvalid("invalid peer certificate: NotValidYet");
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return NetError.tlsInvalid(
      `invalid peer certificate: certificate not valid for name ${
        JSON.stringify(host)
      }; certificate is only valid for ${presentedNames(cert?.subjectaltname)}`,
    );
  }
  // Bun's own TLS names the alert in OpenSSL's message only, as `EPROTO`.
  const alert = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(\w+)$/.exec(code) ??
    (code === "EPROTO"
      ? /:(?:SSLV3|TLSV1|TLSV13)_ALERT_(\w+)$/.exec(message)
      : null);
  if (alert) {
    return NetError.tlsInvalid(`received fatal alert: ${alertName(alert[1])}`);
  }
  if (isCorruptRecord(err)) {
    return NetError.tlsInvalid(
      "received corrupt message of type InvalidContentType",
    );
  }
  if (
    code === "EPROTO" || code.startsWith("ERR_SSL_") ||
    code.startsWith("ERR_TLS_")
  ) {
    return NetError.tlsInvalid(message);
  }
  if (handshaking && (code === "ECONNRESET" || code === "EPIPE")) {
    return NetError.tlsEof();
  }
  // Bun's TLS cancels a write (or finds its socket gone) when the peer's
  // `close_notify` ends the connection: writing to a closed connection.
  if (code === "ECANCELED" || code === "EBADF") return NetError.brokenPipe();
  return codeError(err);
}
