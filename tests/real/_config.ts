/**
 * What `scripts/real.ts` tells the checks about the servers it started
 * (as JSON in the file `REAL_CONFIG` names).
 *
 * @module
 */

/**
 * What the clients are told: where each server is, its credentials, the
 * CA's certificate. A server that did not start is absent.
 */
export interface RealConfig {
  /** The CA's certificate (PEM) that signed every server's certificate. */
  caPem: string;
  postgres?: {
    port: number;
    /** The Unix socket (`.s.PGSQL.<port>` in the temp folder). */
    socket: string;
    user: string;
    password: string;
    database: string;
  };
  redis?: {
    port: number;
    tlsPort: number;
    socket: string;
    password: string;
  };
  nats?: {
    port: number;
    tlsPort: number;
    user: string;
    password: string;
    /** A server of its own that a check stops under its client. */
    doomed?: { port: number; pid: number };
  };
  mariadb?: {
    port: number;
    socket: string;
    user: string;
    password: string;
  };
}
