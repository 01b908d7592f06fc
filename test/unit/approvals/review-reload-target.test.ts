/**
 * Review of issue 16 (adversarial): a held task keeps the SSH target (address, user, key) of the
 * configuration in force when it was asked for, while the recheck at approval judges the host
 * entry in force now: a reload that moves an alias to another machine while the request waits
 * (up to 24 h) makes the approval run the command on the machine the alias used to name, with
 * the credentials it used to have. Failed on the code under review; passes since its fix.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Answerer } from '../../../src/approvals/broker.js';
import type { RunResult } from '../../../src/gateway/tool-contract.js';
import { scriptedHost, startInProcessGate, type InProcessGate } from '../../support/in-process.js';

const POLICY = `
rules:
  - { name: restarts, action: ask, commands: ["systemctl restart *"] }
`;
const OPERATOR: Answerer = { name: 'root', via: 'os-user', channel: 'control-socket' };

let gate: InProcessGate;

beforeAll(async () => {
  gate = await startInProcessGate([scriptedHost(1, ['web'])], { policy: POLICY });
});
afterAll(async () => {
  await gate.close();
});

describe('review 16: a reload while a request waits', () => {
  it('the approved command runs on the host the alias names now, or not at all', async () => {
    const alice = await gate.as({ name: 'alice', roles: [], via: 'command-line' });
    const r = await alice.ok<RunResult>('ssh_run', { alias: 'h1', command: 'systemctl restart app', wait_seconds: 0 });
    const servers = join(gate.dir, 'config', 'servers.yml');
    const before = readFileSync(servers, 'utf8');
    writeFileSync(servers, before.replace('192.0.2.1', '192.0.2.99'));
    try {
      await gate.ok('ssh_reload_config');
      const n = gate.hosts.calls.length;
      gate.gateway.answerApproval(r.approval?.approval_id as string, OPERATOR, true);
      await new Promise((res) => setTimeout(res, 100));
      const ran = gate.hosts.calls.slice(n).map((c) => c.host);
      // Today: ['192.0.2.1'], the machine h1 named when alice asked.
      expect(ran.filter((h) => h !== '192.0.2.99')).toEqual([]);
    } finally {
      writeFileSync(servers, before);
      await gate.ok('ssh_reload_config');
      await alice.close();
    }
  });
});
