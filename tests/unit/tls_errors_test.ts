/**
 * OpenSSL's failures (Node's and Bun's `node:tls`, Bun's own TLS) worded as
 * rustls words them, with Deno's classes: the pure mapping, on every runtime.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { errors } from "../../mod.ts";
import { tlsError } from "../../platform/tls/_errors.ts";

/** An error as `node:tls` or Bun reports one. */
const failure = (code: string, message = code, more = {}): Error =>
  Object.assign(new Error(message), { code }, more);

test("tls errors: an alert the peer sent, by Node's code or by Bun's message under EPROTO", () => {
  for (
    const err of [
      failure("ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL"),
      failure(
        "EPROTO",
        "error:10000460:SSL routines:OPENSSL_internal:TLSV1_ALERT_NO_APPLICATION_PROTOCOL",
      ),
    ]
  ) {
    const mapped = tlsError(err, true);
    assert.ok(mapped instanceof errors.InvalidData);
    assert.equal(mapped.message, "received fatal alert: NoApplicationProtocol");
  }
  assert.equal(
    tlsError(failure("ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE"), true).message,
    "received fatal alert: BadCertificate",
  );
  assert.equal(
    tlsError(failure("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA"), true).message,
    "received fatal alert: UnknownCA",
  );
});

test("tls errors: verification failures as rustls words them", () => {
  const unknown = tlsError(failure("UNABLE_TO_VERIFY_LEAF_SIGNATURE"), true);
  assert.ok(unknown instanceof errors.InvalidData);
  assert.equal(unknown.message, "invalid peer certificate: UnknownIssuer");
  const name = tlsError(
    failure("ERR_TLS_CERT_ALTNAME_INVALID", "mismatch", {
      host: "example.com",
      cert: { subjectaltname: "DNS:localhost, IP Address:127.0.0.1" },
    }),
    true,
  );
  assert.equal(
    name.message,
    'invalid peer certificate: certificate not valid for name "example.com"; ' +
      'certificate is only valid for DnsName("localhost") or IpAddress(127.0.0.1)',
  );
});

test("tls errors: bytes that are not TLS, and a connection lost in the handshake", () => {
  const corrupt = tlsError(failure("ERR_SSL_WRONG_VERSION_NUMBER"), true);
  assert.ok(corrupt instanceof errors.InvalidData);
  assert.equal(
    corrupt.message,
    "received corrupt message of type InvalidContentType",
  );
  const lost = tlsError(failure("ECONNRESET"), true);
  assert.ok(lost instanceof errors.UnexpectedEof);
  // After the handshake a reset is the errno's own class.
  assert.ok(
    tlsError(failure("ECONNRESET"), false) instanceof errors.ConnectionReset,
  );
  // Not an error of the TLS layer: handed on as it is.
  const plain = new TypeError("not TLS");
  assert.equal(tlsError(plain, true), plain);
});
