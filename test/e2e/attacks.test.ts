/**
 * The attack on the policy, end to end: every line of test/support/attacks.ts sent through
 * ssh_run to real OpenSSH hosts whose accounts log in with bash and with dash, each pinned to bash
 * and to sh. Each must be refused, and no payload may have run on the host.
 */
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTACK_POLICY, MUST_DENY, payload, STILL_ALLOWED } from '../support/attacks.js';
import { removeConfig, startGate, writeConfig, type Gate, type HostSpec } from '../support/mcp.js';
import { shellUser, startFleet, type Fleet } from '../support/sshd.js';

const LOGIN_SHELLS = ['/bin/bash', '/bin/dash'];

let fleet: Fleet;
let gate: Gate;
let dir: string;
const aliases: string[] = [];
beforeAll(async () => {
  fleet = await startFleet(1, { subnet: 77, loginShells: LOGIN_SHELLS });
  const h = fleet.hosts[0] as Fleet['hosts'][number];
  const hosts: HostSpec[] = [];
  for (const path of LOGIN_SHELLS) {
    for (const shell of ['bash', 'sh'] as const) {
      for (const kind of ['named', 'star']) {
        const alias = `${kind}-${path.split('/').pop()}-${shell}`;
        aliases.push(alias);
        hosts.push({ alias, host: h.host, port: h.port, user: shellUser(path), shell });
      }
    }
  }
  // Hundreds of attacks a minute from one principal: past the default rate limits, which are not
  // what this test is about.
  const unlimited = `limits: { calls_per_minute: 1000000, host_commands_per_minute: 1000000 }\n${ATTACK_POLICY}`;
  gate = await startGate(writeConfig(fleet, { hosts, policy: unlimited }));
  // Where a payload would land: writable by every test account.
  dir = mkdtempSync(join(tmpdir(), 'sshgate-pwned-'));
  chmodSync(dir, 0o1777);
});
afterAll(async () => {
  await gate?.close();
  await fleet?.stop();
  if (gate) removeConfig(gate.dir);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('sees a file that a command on the hosts makes (the control for the checks below)', async () => {
  for (const alias of aliases.filter((a) => a.startsWith('star'))) {
    const r = await gate.ok<{ exit_code: number }>('ssh_run', { alias, command: `mkdir ${dir}/control` });
    expect(r.exit_code, alias).toBe(0);
    expect(readdirSync(dir), alias).toEqual(['control']);
    rmSync(join(dir, 'control'), { recursive: true });
  }
});

describe('every line of the attack, through ssh_run, under bash and dash login shells', () => {
  it.each(MUST_DENY)('refuses (%s) %j on every host and runs nothing', async (_, line) => {
    const command = payload(line, dir);
    const errors = await Promise.all(aliases.map((alias) => gate.fails('ssh_run', { alias, command, wait_seconds: 5 })));
    // Refused by the policy, or before it as input no rule could mean (a character glued to a
    // special byte, a control character): either way nothing connects.
    for (const [i, e] of errors.entries()) expect(['policy_denied', 'invalid_input'], `${aliases[i]}: ${e.message}`).toContain(e.code);
    expect(readdirSync(dir)).toEqual([]);
  });

  it.each(STILL_ALLOWED)('still runs %j where the rules name it', async (line) => {
    const named = aliases.filter((a) => a.startsWith('named'));
    const results = await Promise.all(named.map((alias) => gate.call('ssh_run', { alias, command: line, wait_seconds: 10 })));
    for (const [i, r] of results.entries()) expect(r.isError ? r.content : 'ran', named[i]).toBe('ran');
  });
});
