/**
 * A cancel that arrives before the tool has started listening for it: the call and its
 * notifications/cancelled in one write to the server's stdin, as the Python SDK can send them.
 * The command must not run on to its time limit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ALLOW_ALL_POLICY, goneWithin, pgrep, pkillFleet, removeConfig, writeConfig } from '../support/mcp.js';
import { startFleet, type Fleet } from '../support/sshd.js';

let fleet: Fleet;
let dir: string;
let server: ChildProcess;
const answers = new Map<number, (m: unknown) => void>();

function send(message: object | object[]): void {
  const lines = (Array.isArray(message) ? message : [message]).map((m) => `${JSON.stringify({ jsonrpc: '2.0', ...m })}\n`);
  server.stdin?.write(lines.join(''));
}

function answer(id: number): Promise<unknown> {
  return new Promise((r) => answers.set(id, r));
}

beforeAll(async () => {
  fleet = await startFleet(1, { subnet: 78 });
  dir = writeConfig(fleet, { hosts: fleet.hosts, policy: ALLOW_ALL_POLICY });
  server = spawn(process.execPath, [resolve('dist/cli.js'), 'serve', '--config', join(dir, 'config'), '--policy', join(dir, 'policies')], {
    env: { PATH: process.env.PATH ?? '', SSHGATE_STATE_DIR: join(dir, 'state'), SSHGATE_LOG_LEVEL: 'warn' },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  createInterface({ input: server.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const m = JSON.parse(line) as { id?: number };
    if (typeof m.id === 'number') answers.get(m.id)?.(m);
  });
  const ready = answer(1);
  send({ id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'race', version: '1' } } });
  await ready;
  send({ method: 'notifications/initialized' });
});

afterAll(async () => {
  server?.stdin?.end();
  await new Promise((r) => server?.once('exit', r));
  pkillFleet(fleet.user, 'sleep 3[34][0-9][0-9]');
  await fleet?.stop();
  if (dir) removeConfig(dir);
});

it('cancels a call whose notifications/cancelled came in the same write, 20 times in a row', async () => {
  for (let i = 0; i < 20; i++) {
    const id = 100 + i;
    send([
      { id, method: 'tools/call', params: { name: 'ssh_run', arguments: { alias: fleet.hosts[0]?.alias, command: `sleep ${3300 + i}` } } },
      { method: 'notifications/cancelled', params: { requestId: id, reason: 'race test' } },
    ]);
  }
  // Every command may have started before its cancel took effect; none may still run after.
  expect(await goneWithin(fleet.user, 'sleep 33[0-9][0-9]', 8000), pgrep(fleet.user, 'sleep 33')).toBe(true);
  await new Promise((r) => setTimeout(r, 1500));
  expect(pgrep(fleet.user, 'sleep 33[0-9][0-9]')).toBe('');
  // The control: all 20 calls became tasks, and every one ended cancelled.
  const listed = answer(200);
  send({ id: 200, method: 'tools/call', params: { name: 'ssh_list_tasks', arguments: { limit: 100 } } });
  const r = (await listed) as { result: { structuredContent: { tasks: { command: string; state: string }[] } } };
  const sleeps = r.result.structuredContent.tasks.filter((t) => /^sleep 33\d\d$/.test(t.command));
  expect(sleeps.map((t) => t.state)).toEqual(Array(20).fill('cancelled'));
});

it('cancels an ssh_run_on_tag whose notifications/cancelled came in the same write', async () => {
  for (let i = 0; i < 10; i++) {
    const id = 300 + i;
    send([
      { id, method: 'tools/call', params: { name: 'ssh_run_on_tag', arguments: { tag: 'test', command: `sleep ${3400 + i}` } } },
      { method: 'notifications/cancelled', params: { requestId: id, reason: 'race test' } },
    ]);
  }
  await new Promise((r) => setTimeout(r, 1500));
  expect(await goneWithin(fleet.user, 'sleep 34[0-9][0-9]', 8000), pgrep(fleet.user, 'sleep 34')).toBe(true);
  const listed = answer(400);
  send({ id: 400, method: 'tools/call', params: { name: 'ssh_list_tasks', arguments: { limit: 100 } } });
  const r = (await listed) as { result: { structuredContent: { tasks: { command: string; state: string }[] } } };
  const sleeps = r.result.structuredContent.tasks.filter((t) => /^sleep 34\d\d$/.test(t.command));
  expect(sleeps.map((t) => t.state)).toEqual(Array(10).fill('cancelled'));
});
