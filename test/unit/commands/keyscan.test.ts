/**
 * `sshgate keyscan` against SSH hosts in this process (the real-sshd cases, jump hosts among
 * them, are in test/e2e/keyscan.test.ts): what it prints, when it asks, what it writes.
 */
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/commands/dispatch.js';
import { fingerprint } from '../../../src/ssh/host-keys.js';
import { captureIo, writeTree } from '../../support/policy.js';
import { ed25519KeyPair } from '../../../src/demo/keys.js';

const { generateKeyPairSync, parseKey } = ssh2.utils;
const servers: ssh2.Server[] = [];
let logins = 0;
const keys = {
  a: [ed25519KeyPair().private, generateKeyPairSync('ecdsa', { bits: 256 }).private],
  b: [ed25519KeyPair().private],
  c: [generateKeyPairSync('ecdsa', { bits: 384 }).private],
};
const ports: Record<string, number> = {};

function publicOf(text: string): Buffer {
  const k = parseKey(text);
  if (k instanceof Error || Array.isArray(k)) throw new Error('bad test key');
  return k.getPublicSSH();
}

beforeAll(async () => {
  for (const [alias, hostKeys] of Object.entries(keys)) {
    const server = new ssh2.Server({ hostKeys }, (client) => {
      client.on('authentication', (ctx) => {
        logins++;
        ctx.reject();
      });
      client.on('error', () => undefined);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    servers.push(server);
    ports[alias] = (server.address() as AddressInfo).port;
  }
});
afterAll(() => {
  for (const s of servers) s.close();
  expect(logins).toBe(0);
});

/** A config of the three hosts (a and b tagged `pair`); known_hosts as given, or none. */
function config(knownHosts?: string): { root: string; knownHosts: string } {
  const hosts = Object.keys(keys)
    .map((a) => `  - { alias: ${a}, host: 127.0.0.1, port: ${ports[a]}, credentials: k, tags: [${a === 'c' ? 'single' : 'pair'}] }`)
    .join('\n');
  const root = writeTree({
    'config/servers.yml': `hosts:\n${hosts}\n`,
    'config/credentials.yml': 'entries:\n  - { name: k, username: u, key_path: id }\n',
    'policies/p.yml': 'rules:\n  - { name: r, action: allow, commands: ["uptime"] }\n',
    ...(knownHosts !== undefined ? { 'config/known_hosts': knownHosts } : {}),
  });
  return { root, knownHosts: join(root, 'config', 'known_hosts') };
}

async function keyscan(root: string, answers: string[] | undefined, ...argv: string[]) {
  const io = captureIo();
  const asked: string[] = [];
  if (answers) io.ask = (q) => (asked.push(q), Promise.resolve(answers.shift() ?? ''));
  const code = await runCli(['keyscan', '--config', join(root, 'config'), '--policy', join(root, 'policies'), ...argv], {}, io);
  return { code, out: io.stdout(), err: io.stderr(), asked };
}

const line = (alias: 'a' | 'b' | 'c', i: number, state: string) => {
  const key = publicOf(keys[alias][i] as string);
  const type = key.subarray(4, 4 + key.readUInt32BE(0)).toString();
  return `${alias} 127.0.0.1:${ports[alias]} ${type} ${fingerprint(key)} ${state}`;
};

describe('sshgate keyscan', () => {
  it('prints every key as alias host:port type fingerprint state, and without a terminal writes nothing', async () => {
    const c = config();
    const r = await keyscan(c.root, undefined);
    expect(r.code).toBe(1);
    expect(r.out).toBe(`${[line('a', 0, 'new'), line('a', 1, 'new'), line('b', 0, 'new'), line('c', 0, 'new')].join('\n')}\n`);
    expect(r.err).toContain('the keys of 3 new hosts were not written');
    expect(r.err).toContain('there is no terminal to confirm them on');
    expect(r.err).toContain('--yes');
    expect(existsSync(c.knownHosts)).toBe(false);
  });

  it('asks per host on a terminal, and writes the hosts answered yes', async () => {
    const c = config();
    const r = await keyscan(c.root, ['y', '', 'yes']);
    expect(r.asked).toEqual([
      `add these 2 keys of "a" to ${c.knownHosts}? [y/N/a=all/q=none] `,
      `add this key of "b" to ${c.knownHosts}? [y/N/a=all/q=none] `,
      `add this key of "c" to ${c.knownHosts}? [y/N/a=all/q=none] `,
    ]);
    expect(r.code).toBe(1);
    const written = readFileSync(c.knownHosts, 'utf8');
    expect(written.trim().split('\n')).toHaveLength(3);
    expect(written).toContain(`[127.0.0.1]:${ports.a} ecdsa-sha2-nistp256 `);
    expect(written).not.toContain(`[127.0.0.1]:${ports.b} `);
    expect(r.err).toContain(`added 2 keys of "a" to ${c.knownHosts}`);
  });

  it('takes "a" for this host and every later one, and "q" for none of the rest', async () => {
    const all = config();
    const r = await keyscan(all.root, ['n', 'a']);
    expect(r.asked).toHaveLength(2);
    expect(readFileSync(all.knownHosts, 'utf8').trim().split('\n')).toHaveLength(2);
    const none = config();
    const q = await keyscan(none.root, ['q']);
    expect(q.asked).toHaveLength(1);
    expect(q.code).toBe(1);
    expect(existsSync(none.knownHosts)).toBe(false);
  });

  it('with --yes asks nothing, still prints every key, and a second run finds them all known and adds nothing', async () => {
    const c = config('');
    const first = await keyscan(c.root, ['n'], '--yes');
    expect(first.asked).toEqual([]);
    expect(first.code).toBe(0);
    expect(first.out.trim().split('\n')).toHaveLength(4);
    const written = readFileSync(c.knownHosts, 'utf8');
    const second = await keyscan(c.root, undefined);
    expect(second.code).toBe(0);
    expect(second.out).toBe(`${[line('a', 0, 'known'), line('a', 1, 'known'), line('b', 0, 'known'), line('c', 0, 'known')].join('\n')}\n`);
    expect(readFileSync(c.knownHosts, 'utf8')).toBe(written);
    expect(second.err).toContain('keyscan: 3 hosts: 0 added, 3 known');
  });

  it('scans one alias or the hosts of a tag', async () => {
    const c = config();
    expect((await keyscan(c.root, undefined, 'b')).out).toBe(`${line('b', 0, 'new')}\n`);
    expect(
      (await keyscan(c.root, undefined, '@pair')).out
        .trim()
        .split('\n')
        .map((l) => l.split(' ')[0]),
    ).toEqual(['a', 'a', 'b']);
    const unknown = await keyscan(c.root, undefined, 'nope');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('no host "nope"');
  });

  it('refuses a key that differs from the recorded one, loudly, and writes nothing for that host', async () => {
    const other = publicOf(ed25519KeyPair().private);
    const before = `# kept\n[127.0.0.1]:${ports.b} ssh-ed25519 ${other.toString('base64')}\n`;
    const c = config(before);
    const r = await keyscan(c.root, ['y'], '--yes', 'b');
    expect(r.code).toBe(1);
    expect(r.out).toBe(`${line('b', 0, 'CHANGED')}\n`);
    expect(r.err).toContain('WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!');
    expect(r.err).toContain(`  line 2: ssh-ed25519 ${fingerprint(other)}`);
    expect(r.err).toContain('Nothing was written for "b"');
    expect(readFileSync(c.knownHosts, 'utf8')).toBe(before);
  });

  it('refuses a key marked @revoked', async () => {
    const revoked = publicOf(keys.c[0] as string);
    const before = `@revoked * ecdsa-sha2-nistp384 ${revoked.toString('base64')}\n`;
    const c = config(before);
    const r = await keyscan(c.root, undefined, '--yes', 'c');
    expect(r.code).toBe(1);
    expect(r.out).toBe(`${line('c', 0, 'REVOKED')}\n`);
    expect(r.err).toContain('REVOKED HOST KEY');
    expect(readFileSync(c.knownHosts, 'utf8')).toBe(before);
  });

  it('refuses options of other commands, and --yes elsewhere', async () => {
    const c = config();
    expect((await keyscan(c.root, undefined, '--json')).code).toBe(2);
    expect((await keyscan(c.root, undefined, 'a', 'b')).code).toBe(2);
    const io = captureIo();
    expect(await runCli(['check', '--yes'], {}, io)).toBe(2);
    expect(io.stderr()).toContain('--yes is an option of keyscan only');
  });
});
