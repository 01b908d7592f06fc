/**
 * A cancel that arrives before the tool has started listening for it: the call and its
 * notifications/cancelled in one write to the server's stdin, as the Python SDK can send them.
 * The command must not run on to its time limit.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ALLOW_ALL_POLICY, goneWithin, pgrep, pkillFleet, removeConfig, writeConfig } from '../support/mcp.js';
import { startRawServer, type RawServer } from '../support/raw-stdio.js';
import { startFleet, type Fleet } from '../support/sshd.js';

let fleet: Fleet;
let dir: string;
let server: RawServer;

beforeAll(async () => {
  fleet = await startFleet(1, { subnet: 78 });
  dir = writeConfig(fleet, { hosts: fleet.hosts, policy: ALLOW_ALL_POLICY });
  server = await startRawServer(dir, 'race');
});

afterAll(async () => {
  await server?.close();
  pkillFleet(fleet.user, 'sleep 3[34][0-9][0-9]');
  await fleet?.stop();
  if (dir) removeConfig(dir);
});

it('cancels a call whose notifications/cancelled came in the same write, 20 times in a row', async () => {
  for (let i = 0; i < 20; i++) {
    const id = 100 + i;
    server.send([
      { id, method: 'tools/call', params: { name: 'ssh_run', arguments: { alias: fleet.hosts[0]?.alias, command: `sleep ${3300 + i}` } } },
      { method: 'notifications/cancelled', params: { requestId: id, reason: 'race test' } },
    ]);
  }
  // Every command may have started before its cancel took effect; none may still run after.
  expect(await goneWithin(fleet.user, 'sleep 33[0-9][0-9]', 8000), pgrep(fleet.user, 'sleep 33')).toBe(true);
  await new Promise((r) => setTimeout(r, 1500));
  expect(pgrep(fleet.user, 'sleep 33[0-9][0-9]')).toBe('');
  // The control: all 20 calls became tasks, and every one ended cancelled.
  const listed = server.answer(200);
  server.send({ id: 200, method: 'tools/call', params: { name: 'ssh_list_tasks', arguments: { limit: 100 } } });
  const r = (await listed) as { result: { structuredContent: { tasks: { command: string; state: string }[] } } };
  const sleeps = r.result.structuredContent.tasks.filter((t) => /^sleep 33\d\d$/.test(t.command));
  expect(sleeps.map((t) => t.state)).toEqual(Array(20).fill('cancelled'));
});

it('cancels an ssh_run_on_tag whose notifications/cancelled came in the same write', async () => {
  for (let i = 0; i < 10; i++) {
    const id = 300 + i;
    server.send([
      { id, method: 'tools/call', params: { name: 'ssh_run_on_tag', arguments: { tag: 'test', command: `sleep ${3400 + i}` } } },
      { method: 'notifications/cancelled', params: { requestId: id, reason: 'race test' } },
    ]);
  }
  await new Promise((r) => setTimeout(r, 1500));
  expect(await goneWithin(fleet.user, 'sleep 34[0-9][0-9]', 8000), pgrep(fleet.user, 'sleep 34')).toBe(true);
  const listed = server.answer(400);
  server.send({ id: 400, method: 'tools/call', params: { name: 'ssh_list_tasks', arguments: { limit: 100 } } });
  const r = (await listed) as { result: { structuredContent: { tasks: { command: string; state: string }[] } } };
  const sleeps = r.result.structuredContent.tasks.filter((t) => /^sleep 34\d\d$/.test(t.command));
  expect(sleeps.map((t) => t.state)).toEqual(Array(10).fill('cancelled'));
});
