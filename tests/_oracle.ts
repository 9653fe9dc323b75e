/**
 * Runs every scenario on native Deno and prints `{ name: result }` as JSON.
 * Started by the differential test with `deno run`; not a test itself.
 */
import { type NetApi, scenarios } from "./_scenarios.ts";

declare const Deno: NetApi;

const results: Record<string, unknown> = {};
for (const [name, scenario] of Object.entries(scenarios)) {
  results[name] = await scenario(Deno);
}
console.log(JSON.stringify(results));
