/**
 * The one accept-dispatch machine: a listening source and the members that
 * share it. Connections are pulled from the source only while a member
 * waits, and each goes to exactly one waiting member, in turn. The clones of
 * a listener in one thread (`ops/tcp.ts`) and the threads or processes that
 * share one socket (`sharing/hub.ts`) are both members of one of these.
 *
 * @module
 */
import { NetError } from "./messages.ts";

/** Where connections come from: one pending `next()` at a time. */
export interface AcceptSource<T> {
  /** The next connection; rejects with an `errors` class, and once closed. */
  next(): Promise<T>;
  /** Whether a pending `next()` keeps the process alive. */
  setRef(ref: boolean): void;
}

interface Want<T, M> {
  member: M;
  refed: boolean;
  resolve(item: T): void;
  reject(err: Error): void;
}

/** Members waiting for connections from one source, served in turn. */
export class AcceptQueue<T, M> {
  #source: AcceptSource<T>;
  #dispose: (item: T) => void;
  #members = new Set<M>();
  #wants: Want<T, M>[] = [];
  /** Connections in hand that no member waits for yet. */
  #ready: T[] = [];
  #pumping = false;
  #closed = false;

  /** `dispose` releases a connection that nobody will take. */
  constructor(source: AcceptSource<T>, dispose: (item: T) => void) {
    this.#source = source;
    this.#dispose = dispose;
  }

  /** How many members share the source. */
  get size(): number {
    return this.#members.size;
  }

  /** Whether a member waits for a connection. */
  get waiting(): boolean {
    return this.#wants.length > 0;
  }

  /** The members, as a copy. */
  members(): M[] {
    return [...this.#members];
  }

  /** Adds a member. */
  join(member: M): void {
    this.#members.add(member);
  }

  /**
   * `member` waits for the next connection. A member waits once at a time:
   * a second want replaces the first. Not a member (any more), or closed:
   * rejects with `BadResource`.
   */
  want(
    member: M,
    refed: boolean,
    resolve: (item: T) => void,
    reject: (err: Error) => void,
  ): void {
    if (this.#closed || !this.#members.has(member)) {
      return reject(NetError.listenerClosed());
    }
    this.#drop(member);
    if (this.#ready.length > 0) return resolve(this.#ready.shift()!);
    this.#wants.push({ member, refed, resolve, reject });
    this.#updateRef();
    this.#pump();
  }

  /** Whether `member`'s wait keeps the process alive. */
  setRef(member: M, refed: boolean): void {
    for (const want of this.#wants) {
      if (want.member === member) want.refed = refed;
    }
    this.#updateRef();
  }

  /**
   * A connection from elsewhere (a closing sibling, a member that could not
   * take it): the next waiting member gets it. `first` puts it ahead of
   * those in hand; closed, it is released.
   */
  offer(item: T, first = false): void {
    if (this.#closed) return this.#dispose(item);
    const want = this.#wants.shift();
    if (want) want.resolve(item);
    else if (first) this.#ready.unshift(item);
    else this.#ready.push(item);
    this.#updateRef();
  }

  /**
   * Removes `member`; its wait rejects with `BadResource`. Returns whether it
   * was the last: then its wait is left for `close()`, which its owner calls.
   */
  leave(member: M): boolean {
    if (!this.#members.delete(member)) return false;
    if (this.#members.size === 0) return true;
    this.#drop(member)?.reject(NetError.listenerClosed());
    this.#updateRef();
    return false;
  }

  /**
   * Stops dispatching and returns the connections in hand; the owner closes
   * the source. Waiting members hear of the close once a pending `next()`
   * has settled: in Deno the port is free only then.
   */
  close(): T[] {
    this.#closed = true;
    if (!this.#pumping) this.#rejectAll();
    return this.#ready.splice(0);
  }

  /**
   * Stops dispatching so that the source can move (to another thread):
   * returns the connections in hand and the members. Waits are dropped
   * unanswered: the members wait again where the source went.
   */
  detach(): { items: T[]; members: M[] } {
    this.#closed = true;
    this.#wants = [];
    return { items: this.#ready.splice(0), members: [...this.#members] };
  }

  #drop(member: M): Want<T, M> | undefined {
    const index = this.#wants.findIndex((w) => w.member === member);
    return index < 0 ? undefined : this.#wants.splice(index, 1)[0];
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    while (this.#wants.length > 0 && !this.#closed) {
      let item: T;
      try {
        item = await this.#source.next();
      } catch (err) {
        if (!this.#closed) this.#wants.shift()?.reject(err as Error);
        continue;
      }
      this.offer(item);
    }
    this.#pumping = false;
    if (this.#closed) this.#rejectAll();
  }

  #rejectAll(): void {
    for (const want of this.#wants.splice(0)) {
      want.reject(NetError.listenerClosed());
    }
  }

  #updateRef(): void {
    this.#source.setRef(this.#wants.some((w) => w.refed));
  }
}
