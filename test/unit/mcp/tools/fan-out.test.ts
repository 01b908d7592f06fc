/** ssh_run_on_tag, in process: one command over several scripted hosts, decided host by host. */
import type { Progress } from '@modelcontextprotocol/server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type * as S from '../../../../src/gateway/tool-contract.js';
import { scriptedHost, startInProcessGate, type InProcessGate } from '../../../support/in-process.js';
import { ALLOW_ALL_POLICY } from '../../../support/mcp.js';

const POLICY = `workdirs: ["/srv/*"]
${ALLOW_ALL_POLICY}  - { name: "no uname on h2", action: deny, aliases: [h2], commands: ["uname*"] }
`;

let gate: InProcessGate;
beforeAll(async () => {
  const web = [1, 2, 3].map((n) => scriptedHost(n, ['web']));
  const batch = [4, 5, 6, 7].map((n) => scriptedHost(n, ['batch']));
  gate = await startInProcessGate([...web, ...batch], { policy: POLICY });
});
afterAll(() => gate?.close());
beforeEach(() => gate.hosts.reset());

describe('ssh_run_on_tag', () => {
  it('runs on every host of the tag the policy allows, reports the denied one, and never sends it the command', async () => {
    gate.hosts.script((call) => ({ steps: [{ stdout: `Linux ${call.alias}\n` }] }));
    const r = await gate.ok<S.RunOnTagResult>('ssh_run_on_tag', { tag: 'web', command: 'uname -a' });
    expect(r.summary).toEqual({ total: 3, succeeded: 2, failed: 0, denied: 1, running: 0 });
    expect(r.results.map((h) => [h.alias, h.status, h.stdout])).toEqual([
      ['h1', 'succeeded', 'Linux h1\n'],
      ['h2', 'denied', ''],
      ['h3', 'succeeded', 'Linux h3\n'],
    ]);
    expect(r.results[1]?.reason).toMatch(/^host "h2": .*no uname on h2/);
    expect(r.results[1]).not.toHaveProperty('task_id');
    expect(gate.hosts.calls.map((c) => c.alias).sort()).toEqual(['h1', 'h3']);
  });

  it('reports each host on its own: a non-zero exit and a host that is down do not stop the others', async () => {
    gate.hosts.takeDown('h3');
    gate.hosts.script((call) => ({ exitCode: call.alias === 'h1' ? 1 : 0 }));
    const r = await gate.ok<S.RunOnTagResult>('ssh_run_on_tag', { tag: 'web', command: 'uptime' });
    expect(r.results.map((h) => [h.alias, h.status])).toEqual([
      ['h1', 'failed'],
      ['h2', 'succeeded'],
      ['h3', 'error'],
    ]);
    expect(r.results[2]?.error?.code).toBe('connect_failed');
    expect(r.summary).toMatchObject({ total: 3, succeeded: 1, failed: 2 });
  });

  it('sends progress per host that ends, with the total of hosts that run, before the result', async () => {
    gate.hosts.script((call) => ({ steps: [{ wait: call.alias === 'h3' ? 60 : 10 }] }));
    const seen: Progress[] = [];
    await gate.client.callTool(
      { name: 'ssh_run_on_tag', arguments: { tag: 'web', command: 'uname -r' } },
      {
        onprogress: (p) => void seen.push(p),
      },
    );
    expect(seen.map((p) => [p.progress, p.total])).toEqual([
      [1, 2],
      [2, 2],
    ]);
    expect(seen.map((p) => p.message)).toEqual(['h1: succeeded (1/2)', 'h3: succeeded (2/2)']);
  });

  it("shares the output budget out among the hosts; the rest of each host's output reads by cursor", async () => {
    const big = (alias: string) => Array.from({ length: 10_000 }, (_, i) => `${alias} ${String(i).padStart(5, '0')}\n`).join('');
    gate.hosts.script((call) => ({ steps: [{ stdout: big(call.alias) }] }));
    const r = await gate.ok<S.RunOnTagResult>('ssh_run_on_tag', { tag: 'batch', command: 'cat big.log' });
    // 98304 bytes for the whole result, shared by 4 hosts' two streams.
    const share = 98_304 / 8;
    for (const h of r.results) {
      const all = big(h.alias);
      expect(h.stdout_bytes).toBe(all.length);
      expect(h.omitted_bytes.stdout).toBe(all.length - share);
      expect(h.read_cursor.stdout).toBe(share / 2);
      expect(h.stdout.endsWith(all.slice(-share / 2))).toBe(true);
    }
    const h5 = r.results.find((h) => h.alias === 'h5') as S.HostOutcome;
    const o = await gate.ok<S.TaskOutputResult>('ssh_get_task_output', {
      task_id: h5.task_id as string,
      cursor: h5.read_cursor,
      max_bytes: 131_072,
    });
    expect(o.done).toBe(true);
    expect(big('h5').slice(0, share / 2) + o.stdout).toBe(big('h5'));
  });

  it('gives every host the workdir the policy lists, and denies every host one it does not', async () => {
    await gate.ok('ssh_run_on_tag', { tag: 'web', command: 'ls', workdir: '/srv/app' });
    expect(gate.hosts.calls.map((c) => c.command)).toEqual(Array(3).fill('cd -- /srv/app || exit 1; ls'));
    const r = await gate.ok<S.RunOnTagResult>('ssh_run_on_tag', { tag: 'web', command: 'ls', workdir: '/root' });
    expect(r.summary).toMatchObject({ total: 3, denied: 3 });
    expect(gate.hosts.calls).toHaveLength(3);
  });

  it('answers a tag no host has with unknown_host, and a concurrency of 0 with invalid_input', async () => {
    expect((await gate.fails('ssh_run_on_tag', { tag: 'db', command: 'uptime' })).code).toBe('unknown_host');
    expect((await gate.fails('ssh_run_on_tag', { tag: 'web', command: 'uptime', concurrency: 0 })).code).toBe('invalid_input');
    expect(gate.hosts.calls).toEqual([]);
  });
});
