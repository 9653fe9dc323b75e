/**
 * Deno's resource table: integer ids (rids) for open listeners and streams,
 * and the core-style `close` / `tryClose` / `resources` over it.
 *
 * @module
 */
import { NetError } from "../core/messages.ts";

/**
 * Anything that lives in the resource table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Resource, ResourceTable } from "@reuseport/net/ops";
 *
 * let closed = false;
 * const timer: Resource = { name: "timer", close: () => closed = true };
 * const table = new ResourceTable();
 * table.close(table.add(timer));
 * assert.ok(closed);
 * ```
 */
export interface Resource {
  /** Deno's resource name: `"tcpListener"`, `"tcpStream"`, `"unixListener"`, `"unixStream"`. */
  readonly name: string;
  /** Releases the resource; called once, when its rid is closed. */
  close(): void;
  /** Whether pending operations on it keep the process alive. */
  setRef?(ref: boolean): void;
}

/**
 * A map from small increasing integers to open resources.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ResourceTable } from "@reuseport/net/ops";
 *
 * const table = new ResourceTable();
 * const rid = table.add({ name: "example", close() {} });
 * assert.deepEqual(table.names(), { [rid]: "example" });
 * table.close(rid);
 * assert.equal(table.has(rid), false);
 * ```
 */
export class ResourceTable {
  #resources = new Map<number, Resource>();
  // Deno hands out 0–2 for stdio; starting at 3 keeps rids comparable.
  #nextRid = 3;

  /** Adds a resource and returns its new rid. */
  add(resource: Resource): number {
    const rid = this.#nextRid++;
    this.#resources.set(rid, resource);
    return rid;
  }

  /** The resource at `rid` if it is a `type`; otherwise `BadResource`. */
  get<T extends Resource>(
    rid: number,
    type: abstract new (...args: never[]) => T,
  ): T {
    const resource = this.#resources.get(rid);
    if (!(resource instanceof type)) throw NetError.badResourceId();
    return resource;
  }

  /**
   * The resource at `rid`, of whatever type, or `undefined`. A caller that
   * checks the type itself, with its own `instanceof`, gets a check the
   * JIT makes cheap; `get()`'s, shared by every type, stays generic.
   */
  find(rid: number): Resource | undefined {
    return this.#resources.get(rid);
  }

  /**
   * Removes the resource at `rid` without closing it, for an op that turns
   * it into another (`startTls`); `BadResource` unless it is a `type`.
   */
  take<T extends Resource>(
    rid: number,
    type: abstract new (...args: never[]) => T,
  ): T {
    const resource = this.get(rid, type);
    this.#resources.delete(rid);
    return resource;
  }

  /** Removes the resource at `rid` and closes it; `BadResource` if there is none. */
  close(rid: number): void {
    const resource = this.#resources.get(rid);
    if (!resource) throw NetError.badResourceId();
    this.#resources.delete(rid);
    resource.close();
  }

  /** Whether `rid` is open. */
  has(rid: number): boolean {
    return this.#resources.has(rid);
  }

  /** rid → resource name for every open resource. */
  names(): Record<number, string> {
    const names: Record<number, string> = {};
    for (const [rid, resource] of this.#resources) names[rid] = resource.name;
    return names;
  }

  /** Sets whether pending operations on `rid` keep the process alive. */
  setRef(rid: number, ref: boolean): void {
    this.#resources.get(rid)?.setRef?.(ref);
  }
}

/**
 * The process's (more exactly: this JavaScript realm's) resource table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { close, op_net_listen_tcp, resourceTable } from "@reuseport/net/ops";
 *
 * const [rid] = op_net_listen_tcp({ hostname: "127.0.0.1", port: 0 });
 * assert.ok(resourceTable.has(rid));
 * close(rid);
 * assert.equal(resourceTable.has(rid), false);
 * ```
 */
export const resourceTable: ResourceTable = new ResourceTable();

/**
 * Closes `rid`; throws `BadResource: Bad resource ID` if it is not open.
 *
 * @example
 * ```ts
 * import { close, op_net_listen_tcp } from "@reuseport/net/ops";
 *
 * const [rid] = op_net_listen_tcp({ hostname: "127.0.0.1", port: 0 });
 * close(rid);
 * ```
 */
export function close(rid: number): void {
  resourceTable.close(rid);
}

/**
 * Closes `rid` if it is open; does nothing otherwise.
 *
 * @example
 * ```ts
 * import { tryClose } from "@reuseport/net/ops";
 *
 * tryClose(123456); // not open: no error
 * ```
 */
export function tryClose(rid: number): void {
  if (resourceTable.has(rid)) resourceTable.close(rid);
}

/**
 * rid → name of every open resource, like Deno's `Deno.resources()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { close, op_net_listen_tcp, resources } from "@reuseport/net/ops";
 *
 * const [rid] = op_net_listen_tcp({ hostname: "127.0.0.1", port: 0 });
 * assert(resources()[rid] === "tcpListener");
 * close(rid);
 * ```
 */
export function resources(): Record<number, string> {
  return resourceTable.names();
}

/**
 * Sets whether pending operations on `rid` (an accept, a read) keep the
 * process alive: Deno's `core.refOpPromise` / `unrefOpPromise`, per resource.
 *
 * @example
 * ```ts
 * import { close, op_net_listen_tcp, setRef } from "@reuseport/net/ops";
 *
 * const [rid] = op_net_listen_tcp({ hostname: "127.0.0.1", port: 0 });
 * setRef(rid, false);
 * close(rid);
 * ```
 */
export function setRef(rid: number, ref: boolean): void {
  resourceTable.setRef(rid, ref);
}
