/** ssh_plan, in process: the policy's decision per part and per host, and nothing run. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as S from '../../../../src/gateway/tool-contract.js';
import { logRecords, scriptedHost, startInProcessGate, type InProcessGate } from '../../../support/in-process.js';
import { ALLOW_ALL_POLICY } from '../../../support/mcp.js';

const POLICY = `${ALLOW_ALL_POLICY}  - { name: "no uname on h2", action: deny, aliases: [h2], commands: ["uname*"] }
`;

let gate: InProcessGate;
beforeAll(async () => {
  gate = await startInProcessGate([scriptedHost(1, ['web']), scriptedHost(2, ['web'])], { policy: POLICY });
});
afterAll(() => gate?.close());

describe('ssh_plan', () => {
  it('shows each part of an allowed command with the rule that allows it, and runs nothing', async () => {
    const r = await gate.ok<S.PlanResult>('ssh_plan', { alias: 'h1', command: 'uptime && uname -a' });
    expect(r).toMatchObject({ allowed: true, targets: ['h1'], decisions: [{ alias: 'h1', allowed: true }] });
    expect(r.segments.map((s) => [s.text, s.rule])).toEqual([
      ['uptime', 'tests run anything else'],
      ['uname -a', 'tests run anything else'],
    ]);
    expect(gate.hosts.calls).toEqual([]);
  });

  it('decides per host over a tag and names the hosts that deny', async () => {
    const r = await gate.ok<S.PlanResult>('ssh_plan', { tag: 'web', command: 'uname -a' });
    expect(r.allowed).toBe(false);
    expect(r.targets).toEqual(['h1', 'h2']);
    expect(r.decisions.map((d) => [d.alias, d.allowed])).toEqual([
      ['h1', true],
      ['h2', false],
    ]);
    expect(r.reason).toMatch(/^denied on 1 of 2 hosts \(h2\); first: .*no uname on h2/);
  });

  it('audits every decision it shows, as ssh_plan', async () => {
    await gate.ok('ssh_plan', { alias: 'h2', command: 'uname -r' });
    const last = logRecords(gate)
      .filter((r) => r.event === 'decision')
      .at(-1);
    expect(last).toMatchObject({ tool: 'ssh_plan', alias: 'h2', command: 'uname -r', allowed: false });
  });

  it.each([
    ['neither alias nor tag', { command: 'uptime' }, 'invalid_input', 'give either alias or tag'],
    ['both alias and tag', { alias: 'h1', tag: 'web', command: 'uptime' }, 'invalid_input', 'give either alias or tag'],
    ['an empty command', { alias: 'h1', command: '  ' }, 'invalid_input', 'the command is empty'],
    ['a control character', { alias: 'h1', command: 'uptime\u0007' }, 'invalid_input', 'a control character (0x07) at offset 6'],
    ['an alias not in the inventory', { alias: 'h9', command: 'uptime' }, 'unknown_host', 'no host "h9"'],
    ['a tag no host has', { tag: 'db', command: 'uptime' }, 'unknown_host', 'no host has the tag "db"'],
  ])('answers %s with %s', async (_, args, code, message) => {
    const e = await gate.fails('ssh_plan', args);
    expect(e.code).toBe(code);
    expect(e.message).toContain(message);
  });
});
