/**
 * Certificates for the TLS tests, made at test time with the `openssl` CLI
 * (`/usr/bin/openssl`, or the first `openssl` on `PATH`), so no private key is
 * ever committed. `testCerts()` makes one set per process, on first use, in a
 * private temp dir (mode 0700) and caches it: every suite in the process shares
 * it. The dir is removed when the process ends (process "exit", or the
 * global "unload" event, which is what `deno test` dispatches), or earlier
 * by `removeTestCerts()`; a later `testCerts()` then makes a new set. A
 * process killed by a signal leaves it behind.
 *
 * The set: a root CA; a server certificate (RSA) for `localhost`, 127.0.0.1
 * and ::1 signed by it; a client certificate signed by it; a second, unrelated
 * CA (for "unknown issuer" rejections); an EC P-256 server certificate for the
 * same names, its key in SEC1 form (`BEGIN EC PRIVATE KEY`, as Deno's
 * `localhost_ecc.key`); a self-signed end-entity certificate for
 * `valid.example.com` only (as Deno's `self-signed-hostname.crt`); and an
 * expired server certificate signed by the CA.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

/** One certificate: its PEM text and file, and those of its private key. */
export interface CertPair {
  /** The certificate, PEM. */
  cert: string;
  /** The private key, PEM. */
  key: string;
  /** Path of the certificate file. */
  certFile: string;
  /** Path of the key file. */
  keyFile: string;
}

/** The certificates `testCerts()` makes; see the module doc. */
export interface TestCerts {
  /** The temp dir the files are in. */
  dir: string;
  /** The root CA (self-signed, CA:TRUE). */
  ca: CertPair;
  /** RSA server certificate for localhost, 127.0.0.1 and ::1, signed by `ca`. */
  server: CertPair;
  /** Client certificate (clientAuth), signed by `ca`. */
  client: CertPair;
  /** A CA unrelated to `ca`: trusting only it rejects `server`. */
  otherCa: CertPair;
  /** EC P-256 server certificate for the same names, signed by `ca`; SEC1 key. */
  ec: CertPair;
  /** Self-signed end-entity certificate valid for `valid.example.com` only. */
  selfSigned: CertPair;
  /** Server certificate for localhost signed by `ca`, valid 2000–2001 only. */
  expired: CertPair;
}

const OPENSSL = existsSync("/usr/bin/openssl") ? "/usr/bin/openssl" : "openssl";

// A config without the distro's defaults, so each certificate carries exactly
// the extensions of its section (rustls rejects a CA:TRUE end entity, which
// `req -x509` with the default config would make).
const CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
[client_ext]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
[self_ext]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:valid.example.com
[ca]
default_ca = expired_ca
[expired_ca]
database = index.txt
serial = serial
new_certs_dir = .
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
[any]
commonName = supplied
`;

let cached: TestCerts | undefined;
let hooked = false;

/**
 * The test certificates of this process, made on first call (about a second)
 * and shared afterwards; see the module doc for the set and its clean-up.
 *
 * @example
 * ```ts
 * import { testCerts } from "./_certs.ts";
 * const { server, ca } = testCerts();
 * console.log(server.cert.startsWith("-----BEGIN CERTIFICATE-----"), ca.certFile);
 * ```
 */
export function testCerts(): TestCerts {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), "reuseport-certs-"));
  if (!hooked) {
    hooked = true;
    process.on("exit", removeTestCerts);
    // `deno test` ends without process "exit"; it dispatches "unload".
    const target = globalThis as {
      addEventListener?: EventTarget["addEventListener"];
    };
    target.addEventListener?.("unload", removeTestCerts);
  }
  try {
    cached = makeCerts(dir);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return cached;
}

/**
 * Removes the temp dir of the cached set now (it is removed at exit anyway).
 *
 * @example
 * ```ts
 * import { removeTestCerts, testCerts } from "./_certs.ts";
 * testCerts();
 * removeTestCerts();
 * ```
 */
export function removeTestCerts(): void {
  if (!cached) return;
  rmSync(cached.dir, { recursive: true, force: true });
  cached = undefined;
}

function makeCerts(dir: string): TestCerts {
  const run = (...args: string[]): void => {
    execFileSync(OPENSSL, args, {
      cwd: dir,
      stdio: ["ignore", "ignore", "pipe"],
    });
  };
  const file = (name: string) => join(dir, name);
  writeFileSync(file("openssl.cnf"), CONFIG);
  const config = ["-config", "openssl.cnf"];
  const rsaKey = (name: string) =>
    run(
      "genpkey",
      "-algorithm",
      "RSA",
      "-pkeyopt",
      "rsa_keygen_bits:2048",
      "-out",
      name,
    );
  const ecKey = (name: string) =>
    run(
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-out",
      name,
    );
  const selfSign = (name: string, cn: string, ext: string) =>
    run(
      "req",
      ...config,
      "-x509",
      "-new",
      "-key",
      `${name}.key`,
      "-subj",
      `/CN=${cn}`,
      "-days",
      "3650",
      "-sha256",
      "-extensions",
      ext,
      "-out",
      `${name}.crt`,
    );
  const sign = (name: string, cn: string, ext: string) => {
    run(
      "req",
      ...config,
      "-new",
      "-key",
      `${name}.key`,
      "-subj",
      `/CN=${cn}`,
      "-out",
      `${name}.csr`,
    );
    run(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-set_serial",
      String(Date.now() + Math.floor(Math.random() * 1e6)),
      "-days",
      "825",
      "-sha256",
      "-extfile",
      "openssl.cnf",
      "-extensions",
      ext,
      "-out",
      `${name}.crt`,
    );
  };

  rsaKey("ca.key");
  selfSign("ca", "reuseport test CA", "ca_ext");
  ecKey("other-ca.key");
  selfSign("other-ca", "reuseport unrelated CA", "ca_ext");
  rsaKey("server.key");
  sign("server", "localhost", "server_ext");
  ecKey("client.key");
  sign("client", "reuseport test client", "client_ext");
  ecKey("ec.pkcs8.key");
  run("ec", "-in", "ec.pkcs8.key", "-out", "ec.key");
  sign("ec", "localhost", "server_ext");
  ecKey("self-signed.key");
  selfSign("self-signed", "valid.example.com", "self_ext");
  // `openssl ca` is what sets dates in the past on OpenSSL 3.0 (x509 -days
  // only counts forward from now); it needs its small database.
  ecKey("expired.key");
  run(
    "req",
    ...config,
    "-new",
    "-key",
    "expired.key",
    "-subj",
    "/CN=localhost",
    "-out",
    "expired.csr",
  );
  writeFileSync(file("index.txt"), "");
  writeFileSync(file("serial"), "01\n");
  run(
    "ca",
    ...config,
    "-batch",
    "-notext",
    "-cert",
    "ca.crt",
    "-keyfile",
    "ca.key",
    "-startdate",
    "20000101000000Z",
    "-enddate",
    "20010101000000Z",
    "-extfile",
    "openssl.cnf",
    "-extensions",
    "server_ext",
    "-in",
    "expired.csr",
    "-out",
    "expired.crt",
  );

  const pair = (name: string): CertPair => ({
    cert: readFileSync(file(`${name}.crt`), "utf8"),
    key: readFileSync(file(`${name}.key`), "utf8"),
    certFile: file(`${name}.crt`),
    keyFile: file(`${name}.key`),
  });
  return {
    dir,
    ca: pair("ca"),
    server: pair("server"),
    client: pair("client"),
    otherCa: pair("other-ca"),
    ec: pair("ec"),
    selfSigned: pair("self-signed"),
    expired: pair("expired"),
  };
}
