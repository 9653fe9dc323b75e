/**
 * The uncaught error a runtime reported on stderr as it died, read back in
 * one line: each runtime words and colours it its own way (Node: the stack;
 * Bun and Deno: `error: ...`).
 *
 * @module
 */

/** Deno colours what it reports. */
// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
/** How Bun and Deno begin the line of an error they report. */
const RUNTIME_ERROR = /^error: (?:Uncaught (?:\(in promise\) )?)?(.+)$/;
/** The first line of a stack: `Name: message`, Node's own `Name [CODE]: message`. */
const STACK_HEAD = /^[A-Z][\w$]*(?: \[[\w$]+\])?: \S/;
/** A line of a stack's frames. */
const FRAME = /^\s+at /;
/**
 * Node's ES module loader names who imported a module it cannot find; for
 * the main module (loaded after a preload) that is the working directory,
 * which says nothing.
 */
const FROM_DIRECTORY = / imported from \S*\/$/;

/**
 * The uncaught error a runtime reported on dying, in one line, from what the
 * process wrote on stderr: the last line where Bun or Deno report one
 * (`error: ...`), or the last that begins a stack (`TypeError: boom`, frames
 * after it: Node, Bun); what else the module wrote is not taken for it.
 */
export function reportedError(stderr: string): string | undefined {
  const lines = stderr.replace(ANSI, "").split(/\r?\n/);
  let frames = false;
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i];
    const runtime = RUNTIME_ERROR.exec(line);
    if (runtime) return withoutPlainError(runtime[1]);
    if (frames && STACK_HEAD.test(line)) return withoutPlainError(line);
    frames ||= FRAME.test(line);
  }
  return undefined;
}

/** A plain `Error: ` (Node's `Error [CODE]: `) says nothing the message does not. */
export function withoutPlainError(line: string): string {
  return line.replace(/^Error(?: \[[\w$]+\])?: /, "").replace(
    FROM_DIRECTORY,
    "",
  );
}
