/**
 * The one way code above the ops hears of them, as Node's `net` reaches
 * `cluster` only through a hook: the parallel runner's worker side
 * registers here (`runner/worker.ts`), and the ops know nothing of the
 * runner. The hook lives on a global symbol, so that every copy of this
 * package in a worker (its ESM and CommonJS builds, say) reports to the
 * one runner.
 *
 * @module
 */

/** What the ops tell the hook, and what it tells them. */
export interface ListenHook {
  /**
   * Whether a listener without `loadBalanced` shares its address anyway:
   * true in the runner's workers, as in `deno serve --parallel`.
   */
  readonly loadBalanced: boolean;
  /**
   * A listener has opened. `closeAll` closes every listener of the ops that
   * opened it (their accept loops end), for a graceful stop.
   */
  listened(closeAll: () => void): void;
}

const KEY = Symbol.for("@reuseport/net/listen-hook");

/** Registers `hook` for this thread (`undefined`: none). */
export function setListenHook(hook: ListenHook | undefined): void {
  (globalThis as { [KEY]?: ListenHook })[KEY] = hook;
}

/** The hook registered for this thread, if any. */
export function listenHook(): ListenHook | undefined {
  return (globalThis as { [KEY]?: ListenHook })[KEY];
}
