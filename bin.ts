#!/usr/bin/env node
/**
 * `reuseport serve [--parallel[=N]] [--threads|--processes] <module> [args...]`,
 * `reuseport --help`, `reuseport --version`:
 * the package's command (see `_cli.ts`).
 *
 * @module
 */
import process from "node:process";
import { main } from "./_cli.ts";

main(process.argv.slice(2)).then((code) => process.exit(code));
