/**
 * The one accept-dispatch machine: a listening source and the members that
 * share it. Connections are pulled from the source only while a member
 * waits, and each goes to exactly one waiting member, in turn. The clones of
 * a listener in one thread (`ops/tcp.ts`) and the threads or processes that
 * share one socket (`sharing/owner.ts`) are both members of one of these.
 *
 * A connection can also be lent: handed to a member that has not yet said
 * it took it (a process that gets a copy over IPC). Until it is settled, a
 * member that leaves gives it back, first in line for the others.
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
  /** Connections lent to members and not yet settled, by ticket. */
  #lent = new Map<number, { member: M; item: T }>();
  /**
   * Tickets are unique across queues: a late answer meant for a queue that
   * closed cannot settle a loan of the one that took its place.
   */
  static #tickets = 0;
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
   * Records `item` as handed to `member` but not yet taken; returns the
   * ticket that `settle()` or `giveBack()` names it by.
   */
  lend(member: M, item: T): number {
    const ticket = ++AcceptQueue.#tickets;
    this.#lent.set(ticket, { member, item });
    return ticket;
  }

  /**
   * The member took the lent connection: returns it (for its owner to
   * release its own copy), or `undefined` when it was given back already.
   */
  settle(ticket: number): T | undefined {
    const loan = this.#lent.get(ticket);
    this.#lent.delete(ticket);
    return loan?.item;
  }

  /** The member could not take the lent connection: the next in line gets it. */
  giveBack(ticket: number): void {
    const item = this.settle(ticket);
    if (item !== undefined) this.#offerFirst([item]);
  }

  /** How many connections are lent and not settled. */
  get lent(): number {
    return this.#lent.size;
  }

  /**
   * Removes `member`; its wait rejects with `BadResource`, and what it had
   * been lent goes to the others, first in line. Returns whether it was the
   * last: then its wait and those connections are left for `close()`, which
   * its owner calls.
   */
  leave(member: M): boolean {
    if (!this.#members.delete(member)) return false;
    const loans = [...this.#lent].filter(([, loan]) => loan.member === member);
    const items = loans.map(([ticket]) => this.settle(ticket)!);
    if (this.#members.size === 0) {
      this.#ready.unshift(...items);
      return true;
    }
    const want = this.#drop(member);
    this.#offerFirst(items);
    want?.reject(NetError.listenerClosed());
    this.#updateRef();
    return false;
  }

  /**
   * Stops dispatching and returns the connections in hand and those lent
   * (which settle no more); the owner closes the source. Waiting members
   * hear of the close once a pending `next()` has settled: in Deno the port
   * is free only then.
   */
  close(): T[] {
    this.#closed = true;
    if (!this.#pumping) this.#rejectAll();
    const lent = [...this.#lent.values()].map((loan) => loan.item);
    this.#lent.clear();
    return [...this.#ready.splice(0), ...lent];
  }

  /** `items`, oldest first, ahead of every connection in hand. */
  #offerFirst(items: T[]): void {
    if (this.#closed) return items.forEach((item) => this.#dispose(item));
    while (items.length > 0 && this.#wants.length > 0) {
      this.#wants.shift()!.resolve(items.shift()!);
    }
    this.#ready.unshift(...items);
    this.#updateRef();
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
