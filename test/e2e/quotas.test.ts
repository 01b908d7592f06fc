/**
 * A quota survives a restart: the commands a principal started today are counted in the state
 * dir, so a stopped and started server (an agent's client restarting it, a crash) does not hand a
 * runaway loop a fresh day.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeConfig, startGate, writeConfig } from '../support/mcp.js';
import { startFleet, type Fleet } from '../support/sshd.js';

const POLICY = `
limits: { commands_per_day: 2 }
rules:
  - { name: "echo", action: allow, commands: ["echo *"] }
`;

let fleet: Fleet;
let dir: string;
beforeAll(async () => {
  fleet = await startFleet(1, { subnet: 99 });
  dir = writeConfig(fleet, { hosts: fleet.hosts, policy: POLICY });
});
afterAll(async () => {
  await fleet?.stop();
  if (dir) removeConfig(dir);
});

describe('commands_per_day', { timeout: 60_000 }, () => {
  it('holds across a restart of the server', async () => {
    const first = await startGate(dir);
    try {
      expect(await first.ok('ssh_run', { alias: 'h1', command: 'echo one' })).toMatchObject({ state: 'succeeded' });
    } finally {
      await first.close();
    }
    const second = await startGate(dir);
    try {
      expect(await second.ok('ssh_run', { alias: 'h1', command: 'echo two' })).toMatchObject({ state: 'succeeded' });
      const refused = await second.fails('ssh_run', { alias: 'h1', command: 'echo three' });
      expect(refused.code).toBe('rate_limited');
      expect(refused.message).toMatch(/commands_per_day/);
    } finally {
      await second.close();
    }
  });
});
