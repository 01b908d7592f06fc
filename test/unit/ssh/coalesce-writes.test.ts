import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { coalesceWrites } from '../../../src/ssh/coalesce-writes.js';

let server: Server | undefined;
afterEach(() => server?.close());

/** A loopback socket pair; `received` gathers what the far end reads. */
async function pair(): Promise<{ socket: Socket; received: () => Buffer }> {
  const chunks: Buffer[] = [];
  server = createServer((s) => s.on('data', (d: Buffer) => chunks.push(d)));
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const socket = connect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  await new Promise((r) => socket.once('connect', r));
  return { socket, received: () => Buffer.concat(chunks) };
}

/** Counts the socket's calls down to the handle: one _write or _writev is one syscall. */
function countWrites(socket: Socket): { single: number; vectored: number[] } {
  const seen = { single: 0, vectored: [] as number[] };
  const s = socket as Socket & { _write: (...a: unknown[]) => void; _writev: (chunks: unknown[], cb: unknown) => void };
  const single = s._write.bind(s);
  const vectored = s._writev.bind(s);
  s._write = (...a) => (seen.single++, single(...a));
  s._writev = (chunks, cb) => (seen.vectored.push(chunks.length), vectored(chunks, cb));
  return seen;
}

const until = async (ok: () => boolean) => {
  for (let i = 0; i < 1000 && !ok(); i++) await new Promise((r) => setTimeout(r, 2));
};

describe('coalesced writes', () => {
  it('sends the writes of one synchronous run as one writev, bytes and order kept', async () => {
    const { socket, received } = await pair();
    const seen = countWrites(coalesceWrites(socket));
    for (let round = 0; round < 3; round++) {
      socket.write(Buffer.from([round, 0, 0, 32]));
      socket.write(Buffer.alloc(32, 0xa0 + round));
      socket.write(Buffer.alloc(16, 0xf0 + round));
      await new Promise((r) => setTimeout(r, 5));
    }
    await until(() => received().length === 3 * 52);
    expect(seen).toEqual({ single: 0, vectored: [3, 3, 3] });
    const expected = [0, 1, 2].flatMap((round) => [...[round, 0, 0, 32], ...Array(32).fill(0xa0 + round), ...Array(16).fill(0xf0 + round)]);
    expect([...received()]).toEqual(expected);
    socket.end();
  });

  it('still sends what was written just before end()', async () => {
    const { socket, received } = await pair();
    coalesceWrites(socket);
    socket.write('last ');
    socket.end('words');
    await until(() => received().length === 10);
    expect(received().toString()).toBe('last words');
  });

  it('holds the writes of a run until its ticks and promise reactions have run', async () => {
    const { socket, received } = await pair();
    const order: string[] = [];
    const s = coalesceWrites(socket) as Socket & { _writev: (chunks: unknown[], cb: unknown) => void };
    const vectored = s._writev.bind(s);
    s._writev = (chunks, cb) => (order.push('socket'), vectored(chunks, cb));
    socket.write('a');
    socket.write('b');
    void Promise.resolve()
      .then(() => order.push('reaction'))
      .then(() => order.push('a later reaction'));
    process.nextTick(() => order.push('tick'));
    await until(() => received().length === 2);
    // (Here ticks and reactions interleave as the test's own promise left them: only the last matters.)
    expect(order.toSorted()).toEqual(['a later reaction', 'reaction', 'socket', 'tick']);
    expect(order.at(-1)).toBe('socket');
    socket.end();
  });

  it('without it, each write of a run is a syscall of its own (what this changes)', async () => {
    const { socket } = await pair();
    const seen = countWrites(socket);
    socket.write(Buffer.alloc(4));
    socket.write(Buffer.alloc(32));
    socket.write(Buffer.alloc(16));
    await new Promise((r) => setTimeout(r, 5));
    expect(seen.single + seen.vectored.length).toBeGreaterThan(1);
    socket.end();
  });
});
