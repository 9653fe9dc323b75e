/**
 * Asks every question of `_dns_cases.ts` of native Deno's `Deno.resolveDns`,
 * against the dnsmasq on the port given as the first argument, and prints
 * `{ label: outcome }` as JSON. Run by `dns_test.ts`; not a test itself.
 *
 * @module
 */
import process from "node:process";
import { runDnsCases } from "./_dns_cases.ts";

declare const Deno: {
  resolveDns(q: string, t: string, o?: unknown): Promise<unknown>;
};

const port = Number(process.argv[2]);
console.log(JSON.stringify(await runDnsCases(Deno.resolveDns, port)));
