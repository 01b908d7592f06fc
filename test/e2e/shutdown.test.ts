import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goneWithin, removeConfig, startGate, writeConfig, presentWithin } from '../support/mcp.js';
import { startFleet, type Fleet } from '../support/sshd.js';

let fleet: Fleet;
let dir: string;
beforeAll(async () => {
  fleet = await startFleet(1, { subnet: 65 });
  dir = writeConfig(fleet, { hosts: fleet.hosts });
});
afterAll(async () => {
  await fleet?.stop();
  if (dir) removeConfig(dir);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function exitedWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

describe('the server stops cleanly', () => {
  it('exits within 2 s when stdin ends, cancelling its running tasks', async () => {
    const gate = await startGate(dir);
    const pid = gate.transport.pid as number;
    const r = await gate.ok<{ state: string }>('ssh_run', { alias: 'h1', command: 'sleep 304 & sleep 305; wait', wait_seconds: 0.3 });
    expect(r.state).toBe('running');
    expect(await presentWithin(fleet.user, 'sleep 30[45]')).not.toBe('');
    const t0 = Date.now();
    // close() ends the server's stdin, and sends SIGTERM only if it is still there after 2 s.
    const closing = gate.close();
    expect(await exitedWithin(pid, 2000)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2000);
    await closing;
    expect(await goneWithin(fleet.user, 'sleep 30[45]', 1000)).toBe(true);
    expect(gate.log()).toContain('stdin closed');
  });

  it('exits within 2 s on SIGTERM, cancelling its running tasks', async () => {
    const gate = await startGate(dir);
    const pid = gate.transport.pid as number;
    const r = await gate.ok<{ state: string }>('ssh_run', { alias: 'h1', command: 'yes > /dev/null & sleep 306; wait', wait_seconds: 0.3 });
    expect(r.state).toBe('running');
    process.kill(pid, 'SIGTERM');
    expect(await exitedWithin(pid, 2000)).toBe(true);
    expect(await goneWithin(fleet.user, '^yes$|sleep 306', 1000)).toBe(true);
    expect(gate.log()).toContain('SIGTERM');
    await gate.close();
  });
});
