/**
 * Review of issue 16 (adversarial): the control socket's idle timeout is an idle timeout, not a
 * deadline: a client that trickles a byte now and then holds its connection (and a file
 * descriptor of the server, which its SSH connections need too) for as long as it likes, and
 * there is no bound on connections. Only the server's own OS user can connect, so this is
 * robustness, not a trust boundary. Failed on the code under review; passes since its fix.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openControlSocket, type ControlSocket } from '../../../src/approvals/control-socket.js';

let dir: string;
let socket: ControlSocket;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sshgate-review-ctl-'));
  socket = await openControlSocket(dir, { list: () => [], answer: () => ({}) });
});
afterAll(async () => {
  await socket.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('review 16: the control socket and a slow client', () => {
  it('a client that sends a byte every second is dropped within the idle time (5 s) of its first byte', async () => {
    const c = createConnection(socket.path);
    let closedAt: number | undefined;
    const start = Date.now();
    c.on('close', () => (closedAt = Date.now()));
    c.on('error', () => undefined);
    const timer = setInterval(() => c.writable && c.write(' '), 1000);
    await new Promise((r) => setTimeout(r, 8000));
    clearInterval(timer);
    c.destroy();
    // Today: still open after 8 s.
    expect(closedAt !== undefined && closedAt - start < 7000).toBe(true);
  }, 15_000);
});
