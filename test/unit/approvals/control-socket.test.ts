/**
 * The control socket refuses what is not an operator's request, is owner-only from its creation,
 * and is found only while its server lives. Hostile lines get an error line, never a crash.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Answerer } from '../../../src/approvals/broker.js';
import { controlRequest, controlSockets, openControlSocket, type ControlSocket } from '../../../src/approvals/control-socket.js';
import { SshgateError } from '../../../src/errors.js';

let dir: string;
let socket: ControlSocket;
const answers: { id: string; answerer: Answerer; approve: boolean; reason?: string | undefined }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sshgate-ctl-'));
  socket = await openControlSocket(dir, {
    list: (all) => [{ all }],
    answer: (id, answerer, approve, reason) => {
      if (id === 'apr-forbidden') throw new SshgateError('forbidden', 'not you', 'ask another');
      if (id === 'apr-crash') throw new Error('secret internals at /etc/x');
      answers.push({ id, answerer, approve, reason });
      return { id };
    },
  });
});
afterAll(async () => {
  await socket.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Sends raw bytes and returns what came back before the server closed. */
function raw(bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = createConnection(socket.path);
    let text = '';
    c.on('data', (d) => (text += d.toString()));
    c.on('error', reject);
    c.on('close', () => resolve(text));
    c.write(bytes);
  });
}

describe('the control socket', () => {
  it('is a socket of mode 0600 named by the pid, found while its server lives', () => {
    const st = statSync(socket.path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect(socket.path).toBe(join(dir, `control.${process.pid}.sock`));
    expect(controlSockets(dir)).toEqual([socket.path]);
    // A dead server's left-over (pid 2^22+1 is above Linux's pid_max) is not asked.
    writeFileSync(join(dir, 'control.4194305.sock'), '');
    expect(controlSockets(dir)).toEqual([socket.path]);
  });

  it('lists and answers, naming the answerer and the control-socket channel', async () => {
    expect(await controlRequest(socket.path, { op: 'list', all: true })).toMatchObject({
      ok: true,
      pid: process.pid,
      approvals: [{ all: true }],
    });
    const r = await controlRequest(socket.path, {
      op: 'answer',
      id: 'apr-1',
      approve: false,
      reason: 'freeze',
      answerer: { name: 'root', via: 'os-user' },
    });
    expect(r).toMatchObject({ ok: true, approval: { id: 'apr-1' } });
    expect(answers.at(-1)).toEqual({
      id: 'apr-1',
      answerer: { name: 'root', via: 'os-user', channel: 'control-socket' },
      approve: false,
      reason: 'freeze',
    });
  });

  it('passes a refusal on as its code, message and hint, and an unexpected error as internal, without its text', async () => {
    const answer = (id: string) =>
      controlRequest(socket.path, { op: 'answer', id, approve: true, answerer: { name: 'root', via: 'os-user' } });
    expect(await answer('apr-forbidden')).toEqual({
      ok: false,
      pid: process.pid,
      error: { code: 'forbidden', message: 'not you', hint: 'ask another' },
    });
    const crash = await answer('apr-crash');
    expect(crash).toMatchObject({ ok: false, error: { code: 'internal' } });
    expect(JSON.stringify(crash)).not.toContain('secret');
  });

  it.each([
    ['not JSON', 'hello\n'],
    ['JSON of no request', '{"op":"drop-tables"}\n'],
    ['an answer without an answerer', '{"op":"answer","id":"apr-1","approve":true}\n'],
    [
      'a request with an extra field',
      '{"op":"answer","id":"apr-1","approve":true,"answerer":{"name":"x","via":"os-user"},"channel":"elicitation"}\n',
    ],
    ['a channel the caller names itself', '{"op":"answer","id":"apr-1","approve":true,"answerer":{"name":"x","via":"oauth"}}\n'],
    ['an approve that is a string', '{"op":"answer","id":"apr-1","approve":"yes","answerer":{"name":"x","via":"os-user"}}\n'],
    ['a line over 16 KiB', `{"op":"list","pad":"${'x'.repeat(20_000)}"}\n`],
  ])('refuses %s with one error line, and answers nothing', async (_, line) => {
    const before = answers.length;
    const text = await raw(line);
    expect(JSON.parse(text)).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
    expect(answers.length).toBe(before);
  });

  it('still serves after all that', async () => {
    expect(await controlRequest(socket.path, { op: 'list', all: false })).toMatchObject({ ok: true });
  });
});
