/**
 * Bun's stream over a fake socket, on every runtime: what it asks of Bun per
 * connection (no pause or resume unless the reader falls behind), and that
 * the errors it makes only when a write waits are still Deno's.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { errors } from "../../mod.ts";
import type { BunSocket } from "../../platform/bun/_bun.ts";
import { BunStream } from "../../platform/bun/_stream.ts";

/** A Bun socket that records the calls made to it; `room` is what `write` takes. */
function fakeSocket(room = Infinity): BunSocket & { calls: string[] } {
  const calls: string[] = [];
  const call = (name: string) => () => void calls.push(name);
  return {
    calls,
    data: undefined,
    localAddress: "127.0.0.1",
    localPort: 4000,
    remoteAddress: "127.0.0.1",
    remotePort: 5000,
    write(data: Uint8Array): number {
      calls.push("write");
      return Math.min(data.byteLength, room);
    },
    shutdown: call("shutdown"),
    end: call("end"),
    terminate: call("terminate"),
    upgradeTLS: () => {
      calls.push("upgradeTLS");
      return undefined;
    },
    pause: call("pause"),
    resume: call("resume"),
    ref: call("ref"),
    unref: call("unref"),
    setNoDelay: () => true,
    setKeepAlive: () => true,
  };
}

test("bun stream: a request's connection asks Bun for no pause or resume", async () => {
  const socket = fakeSocket();
  const stream = new BunStream(socket);
  assert.deepEqual(stream.remoteAddr, { hostname: "127.0.0.1", port: 5000 });
  const buf = new Uint8Array(16);
  const read = stream.read(buf);
  BunStream.handlers.data(socket, new Uint8Array([1, 2, 3]));
  assert.equal(await read, 3);
  assert.equal(await stream.write(new Uint8Array(4)), 4);
  stream.close();
  // Unref'd as it comes, held while the read waited, closed with a FIN.
  assert.deepEqual(socket.calls, ["unref", "ref", "unref", "write", "end"]);
});

test("bun stream: past the high-water mark it pauses once, and resumes once read down", async () => {
  const socket = fakeSocket();
  const stream = new BunStream(socket);
  // Nobody reads: 64 KiB are read ahead, then Bun holds off.
  BunStream.handlers.data(socket, new Uint8Array(40 * 1024));
  assert.deepEqual(socket.calls, ["unref"]);
  BunStream.handlers.data(socket, new Uint8Array(40 * 1024));
  BunStream.handlers.data(socket, new Uint8Array(40 * 1024));
  assert.deepEqual(socket.calls, ["unref", "pause"]);
  const buf = new Uint8Array(40 * 1024);
  assert.equal(await stream.read(buf), 40 * 1024);
  assert.deepEqual(socket.calls, ["unref", "pause"]);
  assert.equal(await stream.read(buf), 40 * 1024);
  assert.deepEqual(socket.calls, ["unref", "pause", "resume"]);
  assert.equal(await stream.read(buf), 40 * 1024);
  assert.deepEqual(socket.calls, ["unref", "pause", "resume"]);
  stream.close();
});

test("bun stream: a write still waiting fails with Interrupted at a close here, BrokenPipe at the peer's", async () => {
  const ours = fakeSocket(0);
  const closedHere = new BunStream(ours);
  const waiting = closedHere.write(new Uint8Array(8));
  closedHere.close();
  await assert.rejects(waiting, errors.Interrupted);

  const peers = fakeSocket(0);
  const closedThere = new BunStream(peers);
  const pending = closedThere.write(new Uint8Array(8));
  BunStream.handlers.close(peers);
  await assert.rejects(pending, errors.BrokenPipe);
  // Gone: a later write is a broken pipe too, and a close is quiet.
  await assert.rejects(closedThere.write(new Uint8Array(1)), errors.BrokenPipe);
  closedThere.close();
});

test("bun stream: a close with nothing pending rejects nothing, and a pending shutdown resolves", async () => {
  const socket = fakeSocket(0);
  const stream = new BunStream(socket);
  const write = stream.write(new Uint8Array(8));
  const shutdown = stream.shutdown();
  stream.close();
  await assert.rejects(write, errors.Interrupted);
  assert.equal(await shutdown, undefined);
  const idle = new BunStream(fakeSocket());
  idle.close();
  idle.close();
  await assert.rejects(idle.read(new Uint8Array(1)), errors.Interrupted);
});

test("bun stream: detach hands on the socket with the bytes read ahead, and lets go of it", async () => {
  const socket = fakeSocket();
  const stream = new BunStream(socket);
  BunStream.handlers.data(socket, new Uint8Array([22, 3]));
  BunStream.handlers.data(socket, new Uint8Array([1]));
  const handed = stream.detach()!;
  assert.equal(handed.socket, socket);
  assert.deepEqual(handed.pending, new Uint8Array([22, 3, 1]));
  // The socket's callbacks no longer reach the stream, which is closed.
  assert.equal(socket.data, undefined);
  BunStream.handlers.data(socket, new Uint8Array([9]));
  BunStream.handlers.close(socket);
  await assert.rejects(stream.read(new Uint8Array(1)), errors.Interrupted);
  stream.close();
  assert.deepEqual(socket.calls, ["unref"]);
  // Nothing read ahead: nothing pending.
  assert.equal(new BunStream(fakeSocket()).detach()!.pending, undefined);
});

test("bun stream: detach refuses while a read or write waits, or once closed or gone", async () => {
  const reading = new BunStream(fakeSocket());
  const read = reading.read(new Uint8Array(1));
  assert.equal(reading.detach(), undefined);
  const writing = new BunStream(fakeSocket(0));
  void writing.write(new Uint8Array(1)).catch(() => {});
  assert.equal(writing.detach(), undefined);
  writing.close();
  const closed = new BunStream(fakeSocket());
  closed.close();
  assert.equal(closed.detach(), undefined);
  const gone = fakeSocket();
  const ended = new BunStream(gone);
  BunStream.handlers.close(gone);
  assert.equal(ended.detach(), undefined);
  reading.close();
  await assert.rejects(read, errors.Interrupted);
});
