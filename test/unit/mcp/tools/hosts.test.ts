/** ssh_list_hosts and ssh_describe_host, in process: what the inventory holds, without a secret. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as S from '../../../../src/gateway/tool-contract.js';
import { scriptedHost, startInProcessGate, type InProcessGate } from '../../../support/in-process.js';

let gate: InProcessGate;
beforeAll(async () => {
  gate = await startInProcessGate([scriptedHost(1, ['web', 'prod']), scriptedHost(2, ['web']), scriptedHost(3, ['db'], 'db1')]);
});
afterAll(() => gate?.close());

describe('ssh_list_hosts', () => {
  it('lists every host of the inventory, in its order', async () => {
    const r = await gate.ok<S.ListHostsResult>('ssh_list_hosts');
    expect(r.hosts.map((h) => h.alias)).toEqual(['h1', 'h2', 'db1']);
    expect(r.hosts[0]).toEqual({ alias: 'h1', tags: ['web', 'prod'], description: '' });
  });

  it('lists only the hosts with a tag, and none for a tag no host has', async () => {
    expect((await gate.ok<S.ListHostsResult>('ssh_list_hosts', { tag: 'web' })).hosts.map((h) => h.alias)).toEqual(['h1', 'h2']);
    expect((await gate.ok<S.ListHostsResult>('ssh_list_hosts', { tag: 'nothing' })).hosts).toEqual([]);
  });

  it('refuses a tag that is not a string as invalid_input, naming the field', async () => {
    const e = await gate.fails('ssh_list_hosts', { tag: 5 });
    expect(e.code).toBe('invalid_input');
    expect(e.message).toContain('tag');
  });

  it('connects to nothing', () => {
    expect(gate.hosts.calls).toEqual([]);
    expect(gate.hosts.pings).toEqual([]);
  });
});

describe('ssh_describe_host', () => {
  it('shows address, user, credential, limits and rules, and no secret', async () => {
    const r = await gate.call('ssh_describe_host', { alias: 'h1' });
    const d = r.structuredContent as S.DescribeHostResult;
    expect(d).toMatchObject({
      alias: 'h1',
      host: '192.0.2.1',
      port: 22,
      user: 'deploy',
      tags: ['web', 'prod'],
      shell: 'bash',
      jump_chain: [],
      credential: 'fleet',
      auth_methods: ['key'],
    });
    expect(d.limits.max_seconds).toBeGreaterThan(0);
    expect(d.rules.map((rule) => rule.name)).toEqual(['no reboots', 'tests run anything else']);
    expect(JSON.stringify(r)).not.toMatch(/PRIVATE KEY|BEGIN|user_ed25519/);
  });

  it('answers an alias not in the inventory with unknown_host and where to find the aliases', async () => {
    const e = await gate.fails('ssh_describe_host', { alias: 'web9' });
    expect(e).toMatchObject({ code: 'unknown_host', message: 'no host "web9" in the inventory' });
    expect(e.hint).toContain('ssh_list_hosts');
  });
});

describe('ssh_describe_host: files rules', () => {
  let files: InProcessGate;
  beforeAll(async () => {
    files = await startInProcessGate([scriptedHost(1, ['web']), scriptedHost(2, ['db'])], {
      policy: `
rules:
  - { name: anything, action: allow, commands: ["*"] }
files:
  - { name: nginx, action: allow, tags: [web], read: ["/etc/nginx", "/etc/nginx/*"], write: ["/etc/nginx/conf.d/*"], max_file_bytes: 65536 }
  - { name: keys, action: deny, read: ["/etc/nginx/*.key"], write: ["/etc/nginx/*.key"] }
`,
    });
  });
  afterAll(() => files?.close());

  it("lists the files: rules that apply to the host, with each rule's own cap", async () => {
    const web = await files.ok<S.DescribeHostResult>('ssh_describe_host', { alias: 'h1' });
    expect(web.files).toEqual([
      expect.objectContaining({
        name: 'nginx',
        action: 'allow',
        read: ['/etc/nginx', '/etc/nginx/*'],
        write: ['/etc/nginx/conf.d/*'],
        max_file_bytes: 65536,
      }),
      expect.objectContaining({ name: 'keys', action: 'deny', read: ['/etc/nginx/*.key'] }),
    ]);
    const db = await files.ok<S.DescribeHostResult>('ssh_describe_host', { alias: 'h2' });
    expect(db.files.map((r) => r.name)).toEqual(['keys']);
    expect(db.limits.max_file_bytes).toBeGreaterThan(0);
  });
});
