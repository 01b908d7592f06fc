import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goneWithin, removeConfig, startGate, writeConfig, type Gate } from '../support/mcp.js';
import { startFleet, type Fleet } from '../support/sshd.js';

let fleet: Fleet;
let gate: Gate;
beforeAll(async () => {
  fleet = await startFleet(2, { subnet: 63 });
  gate = await startGate(writeConfig(fleet, { hosts: fleet.hosts }));
});
afterAll(async () => {
  await gate?.close();
  await fleet?.stop();
  if (gate) removeConfig(gate.dir);
});

describe('ssh_run', () => {
  it('returns stdout, stderr, exit code, signal and duration', async () => {
    const r = await gate.ok<Record<string, unknown>>('ssh_run', { alias: 'h1', command: 'echo out; echo err >&2' });
    expect(r).toMatchObject({ state: 'succeeded', exit_code: 0, signal: null, stdout: 'out\n', stderr: 'err\n', truncated: false });
    expect(r.duration_ms).toBeTypeOf('number');
  });

  it('cancels', async () => {
    const r = await gate.ok<{ state: string; task_id: string }>('ssh_run', { alias: 'h1', command: 'sleep 300 & sleep 301; wait', wait_seconds: 0.5 });
    expect(r.state).toBe('running');
    const c = await gate.ok('ssh_cancel', { task_id: r.task_id });
    expect(c).toMatchObject({ result: 'cancelled' });
    expect(await goneWithin(fleet.user, 'sleep 30[01]', 3000)).toBe(true);
    console.error(gate.log());
  });
});
