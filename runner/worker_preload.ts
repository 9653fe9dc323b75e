/**
 * Loaded by the runner before each worker's module (Node's `--import`,
 * Deno's and Bun's `--preload`): registers the worker side with the ops.
 *
 * @module
 */
import { installWorker } from "./worker.ts";

installWorker();
