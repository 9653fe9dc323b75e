/**
 * Every `REUSEPORT_*` environment variable, read and checked here and nowhere
 * else. The reader is passed in (a runtime's `env()`), so that tests can give
 * any environment.
 *
 * @module
 */

/**
 * What `REUSEPORT_STRATEGY` and `setStrategy()` accept.
 *
 * @example
 * ```ts
 * import { setStrategy, type StrategySetting } from "@reuseport/net";
 *
 * const setting: StrategySetting = "emulated";
 * setStrategy(setting);
 * setStrategy(undefined);
 * ```
 */
export type StrategySetting = "auto" | "kernel" | "emulated";

/** The variables, by what they say. */
export const ENV = {
  /** Forces a strategy: `auto`, `kernel` or `emulated`. */
  strategy: "REUSEPORT_STRATEGY",
  /** Set by the runner in its workers: this worker's number, 1 to N. */
  worker: "REUSEPORT_WORKER",
  /** Set by the runner in its workers: how many there are. */
  workers: "REUSEPORT_WORKERS",
  /** Set by the runner in its child processes: the primary's control socket. */
  primary: "REUSEPORT_PRIMARY",
} as const;

const STRATEGIES: readonly string[] = ["auto", "kernel", "emulated"];

/** Validates a strategy setting; `source` names where it came from, for the message. */
export function parseStrategySetting(
  value: unknown,
  source: string,
): StrategySetting {
  if (typeof value === "string" && STRATEGIES.includes(value)) {
    return value as StrategySetting;
  }
  throw new TypeError(
    `${source} must be one of "auto", "kernel", "emulated": received ${
      JSON.stringify(value)
    }`,
  );
}

/** The settings an environment holds. */
export interface Settings {
  /** `REUSEPORT_STRATEGY`, checked (a bad value throws `TypeError`). */
  strategy: StrategySetting | undefined;
  /** `REUSEPORT_PRIMARY`: set in a runner's child process. */
  primary: string | undefined;
}

/** Reads the settings through `env` (a runtime's `env()`). */
export function readSettings(
  env: (name: string) => string | undefined,
): Settings {
  const strategy = env(ENV.strategy);
  return {
    strategy: strategy
      ? parseStrategySetting(strategy, ENV.strategy)
      : undefined,
    primary: env(ENV.primary) || undefined,
  };
}

/** The variables the runner sets for worker `id` of `count`. */
export function workerEnv(
  id: number,
  count: number,
  primary?: string,
): Record<string, string> {
  return {
    [ENV.worker]: String(id),
    [ENV.workers]: String(count),
    ...(primary ? { [ENV.primary]: primary } : {}),
  };
}
