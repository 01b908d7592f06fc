import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptedLogins } from '../support/sshd.js';
import { goneWithin, pgrep, pkillFleet, presentWithin, removeConfig, startGate, writeConfig, type Gate } from '../support/mcp.js';
import { startFleet, type Fleet } from '../support/sshd.js';

interface Status {
  state: string;
  error?: { code: string; message: string };
  stdout_bytes: number;
}

async function until<T>(probe: () => Promise<T>, done: (v: T) => boolean, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (done(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const FINAL = ['succeeded', 'failed', 'cancelled', 'timed_out', 'lost'];

describe('a host that goes away', () => {
  let fleet: Fleet;
  let gate: Gate;
  beforeAll(async () => {
    fleet = await startFleet(2, { subnet: 72 });
    gate = await startGate(writeConfig(fleet, { hosts: fleet.hosts }));
  });
  afterAll(async () => {
    await gate?.close();
    pkillFleet(fleet.user, 'sleep 35[01]');
    await fleet?.stop();
    if (gate) removeConfig(gate.dir);
  });

  it('ends a running task lost with a clear reason when sshd dies, and reconnects once sshd is back', async () => {
    const { task_id } = await gate.ok<{ task_id: string }>('ssh_run_async', { alias: 'h1', command: 'sleep 350' });
    await until(
      () => gate.ok<Status>('ssh_get_task_status', { task_id }),
      (s) => s.state === 'running',
      3000,
    );
    await new Promise((r) => setTimeout(r, 200));
    await fleet.crash();
    const s = await until(
      () => gate.ok<Status>('ssh_get_task_status', { task_id }),
      (v) => FINAL.includes(v.state),
      5000,
    );
    expect(s.state).toBe('lost');
    expect(s.error).toMatchObject({ code: 'lost', message: expect.stringContaining('connection closed') });

    const down = await gate.fails('ssh_run', { alias: 'h1', command: 'echo nobody home', timeout_seconds: 5 });
    expect(down.code).toBe('connect_failed');

    await fleet.restart();
    const back = await gate.ok<{ stdout: string }>('ssh_run', { alias: 'h1', command: 'echo back again' });
    expect(back.stdout).toBe('back again\n');
  });

  it('refuses a host whose key changed between two calls, and runs nothing there', async () => {
    await gate.ok('ssh_run', { alias: 'h2', command: 'true' });
    await fleet.crash();
    await fleet.restart({ newHostKey: true });
    const logins = acceptedLogins(fleet);
    for (let i = 0; i < 2; i++) {
      const e = await gate.fails('ssh_run', { alias: 'h2', command: 'sleep 351' });
      expect(e.code).toBe('host_key_mismatch');
    }
    expect(acceptedLogins(fleet)).toBe(logins);
    expect(pgrep(fleet.user, 'sleep 351')).toBe('');
  });
});

describe('load, reload and a vanishing client', () => {
  let fleet: Fleet;
  let gate: Gate;
  // 500 tasks and their polling are far past the default calls_per_minute: this test is about load.
  const policy = (allowSleep: boolean) => `
limits: { calls_per_minute: 100000, host_commands_per_minute: 100000 }
rules:
  - { name: "basics", action: allow, commands: ["echo *", "true"${allowSleep ? ', "sleep *", "sh -c *"' : ''}] }
overrides:
  tags:
    load: { max_concurrent_per_host: 3 }
`;
  beforeAll(async () => {
    fleet = await startFleet(10, { subnet: 73 });
    gate = await startGate(writeConfig(fleet, { hosts: fleet.hosts.map((h) => ({ ...h, tags: ['load'] })), policy: policy(true) }));
  });
  afterAll(async () => {
    await gate?.close();
    await fleet?.stop();
    if (gate) removeConfig(gate.dir);
  });

  it('takes 500 tasks across 10 hosts: every one ends succeeded, never more than the limit running on a host', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 500; i++) {
      const alias = `h${(i % 10) + 1}`;
      ids.push((await gate.ok<{ task_id: string }>('ssh_run_async', { alias, command: `sleep 0.02; echo ${i}` })).task_id);
    }
    let peak = 0;
    let all: { task_id: string; alias: string; state: string }[] = [];
    for (let round = 0; round < 600; round++) {
      all = (await gate.ok<{ tasks: { task_id: string; alias: string; state: string }[] }>('ssh_list_tasks', { limit: 1000 })).tasks;
      const running = new Map<string, number>();
      for (const t of all) if (t.state === 'running') running.set(t.alias, (running.get(t.alias) ?? 0) + 1);
      peak = Math.max(peak, ...running.values(), 0);
      if (ids.every((id) => FINAL.includes(all.find((t) => t.task_id === id)?.state ?? ''))) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const mine = all.filter((t) => ids.includes(t.task_id));
    expect(mine).toHaveLength(500);
    expect(mine.filter((t) => t.state !== 'succeeded')).toEqual([]);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(3);
  });

  it('lets running tasks finish under the policy they started with, applies a new one to new calls, and ignores a broken one', async () => {
    const policyFile = join(gate.dir, 'policies', 'test.yml');
    const { task_id } = await gate.ok<{ task_id: string }>('ssh_run_async', { alias: 'h1', command: "sh -c 'sleep 1; echo finished'" });
    writeFileSync(policyFile, policy(false));
    await gate.ok('ssh_reload_config');
    expect((await gate.fails('ssh_run', { alias: 'h2', command: 'sleep 1' })).code).toBe('policy_denied');
    const done = await until(
      () => gate.ok<Status>('ssh_get_task_status', { task_id }),
      (s) => FINAL.includes(s.state),
      5000,
    );
    expect(done).toMatchObject({ state: 'succeeded', stdout_bytes: 'finished\n'.length });

    writeFileSync(policyFile, 'rules: [ { action: allow, commands: ["sleep *"] }');
    expect((await gate.fails('ssh_reload_config')).code).toBe('invalid_config');
    expect((await gate.fails('ssh_run', { alias: 'h2', command: 'sleep 1' })).code).toBe('policy_denied');
    expect((await gate.ok<{ stdout: string }>('ssh_run', { alias: 'h2', command: 'echo still served' })).stdout).toBe('still served\n');
    writeFileSync(policyFile, policy(true));
    await gate.ok('ssh_reload_config');
  });

  it('exits, leaving no remote process, when the client vanishes in the middle of a call', async () => {
    const g = await startGate(gate.dir);
    const pid = g.transport.pid as number;
    const call = g.call('ssh_run', { alias: 'h3', command: 'sleep 352' });
    call.catch(() => undefined);
    expect(await presentWithin(fleet.user, 'sleep 352')).not.toBe('');
    const t0 = Date.now();
    const closing = g.close();
    for (;;) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      if (Date.now() - t0 > 2000) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(Date.now() - t0).toBeLessThan(2000);
    await closing;
    expect(await goneWithin(fleet.user, 'sleep 352', 1000)).toBe(true);
  });
});
