/** ssh_ping and ssh_reload_config, in process: logins to scripted hosts, and files read again. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type * as S from '../../../../src/gateway/tool-contract.js';
import { scriptedHost, startInProcessGate, type InProcessGate } from '../../../support/in-process.js';

let gate: InProcessGate;
let policyFile: string;
let policy: string;
beforeAll(async () => {
  gate = await startInProcessGate([scriptedHost(1), scriptedHost(2)]);
  policyFile = join(gate.dir, 'policies', 'test.yml');
  policy = readFileSync(policyFile, 'utf8');
});
afterAll(() => gate?.close());
beforeEach(() => {
  gate.hosts.reset();
  writeFileSync(policyFile, policy);
});

describe('ssh_ping', () => {
  it('logs in to one host and reports the latency, running nothing', async () => {
    const r = await gate.ok<S.PingResult>('ssh_ping', { alias: 'h1' });
    expect(r).toMatchObject({ alias: 'h1', reachable: true, latency_ms: 1.3 });
    expect(gate.hosts.pings).toEqual(['h1']);
    expect(gate.hosts.calls).toEqual([]);
  });

  it('without an alias pings every host, and is unreachable as a whole when one host is', async () => {
    gate.hosts.takeDown('h2');
    const r = await gate.ok<S.PingResult>('ssh_ping');
    expect(r).toMatchObject({ alias: '*', reachable: false });
    expect(r.hosts?.map((h) => [h.alias, h.reachable, h.error?.code])).toEqual([
      ['h1', true, undefined],
      ['h2', false, 'connect_failed'],
    ]);
  });

  it('answers an alias not in the inventory with unknown_host', async () => {
    expect((await gate.fails('ssh_ping', { alias: 'h9' })).code).toBe('unknown_host');
    expect(gate.hosts.pings).toEqual([]);
  });
});

describe('ssh_reload_config', () => {
  it('swaps in the changed policy, says what it loaded, and retires the old connections', async () => {
    await gate.ok('ssh_run', { alias: 'h1', command: 'uptime' });
    writeFileSync(policyFile, `${policy}  - { name: "no uptime", action: deny, commands: ["uptime"] }\n`);
    const r = await gate.ok<S.ReloadResult>('ssh_reload_config');
    expect(r).toMatchObject({ reloaded: true, hosts: 2, rules: 3, policy_files: [policyFile], host_key_policy: 'strict' });
    expect(gate.hosts.retired).toBe(1);
    expect((await gate.fails('ssh_run', { alias: 'h1', command: 'uptime' })).message).toContain('no uptime');
    writeFileSync(policyFile, policy);
    await gate.ok('ssh_reload_config');
  });

  it('keeps the running configuration when a file is invalid, and says which', async () => {
    writeFileSync(policyFile, 'rules:\n  - { action: maybe, commands: ["*"] }\n');
    const e = await gate.fails('ssh_reload_config');
    expect(e.code).toBe('invalid_config');
    expect(e.message).toMatch(/^the new configuration was not loaded, the old one stays: /);
    expect(e.message).toContain('policies/test.yml:2:15: rules[0].action');
    expect(gate.hosts.retired).toBe(0);
    expect((await gate.ok<S.RunResult>('ssh_run', { alias: 'h1', command: 'uptime' })).state).toBe('succeeded');
  });
});
