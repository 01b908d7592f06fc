import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { BaseAgent, ParsedKey } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateAgent } from '../../../src/ssh/agent.js';
import { loadSsh2, type Ssh2 } from '../../../src/ssh/ssh2.js';
import { keygen, signKey } from '../../support/certificates.js';
import { tempDir } from '../../support/policy.js';
import { staleSocket } from '../../support/sockets.js';

let ssh2: Ssh2;
let work: string;
let sock: string;
let pid = '';

beforeAll(async () => {
  ssh2 = await loadSsh2();
  work = tempDir();
  sock = join(work, 'agent.sock');
  pid = /SSH_AGENT_PID=(\d+)/.exec(execFileSync('ssh-agent', ['-s', '-a', sock], { encoding: 'utf8' }))?.[1] ?? '';
  const ca = keygen(work, 'ca');
  for (const [name, type] of [
    ['ed', 'ed25519'],
    ['rsa', 'rsa'],
  ] as const) {
    const k = keygen(work, name, type, type === 'rsa' ? 2048 : undefined);
    signKey(ca.path, `${k.path}.pub`, { principals: ['deploy'], id: `${name}-id` });
    execFileSync('ssh-add', ['-q', k.path], { env: { ...process.env, SSH_AUTH_SOCK: sock } });
  }
});

afterAll(() => {
  if (pid) execFileSync('kill', [pid]);
});

const identities = (agent: BaseAgent) =>
  new Promise<ParsedKey[]>((resolve, reject) =>
    agent.getIdentities((err, keys) => (err ? reject(err) : resolve((keys ?? []) as ParsedKey[]))),
  );
const signed = (agent: BaseAgent, key: ParsedKey, data: Buffer) =>
  new Promise<Buffer>((resolve, reject) => agent.sign(key, data, {}, (err, sig) => (err ? reject(err) : resolve(sig as Buffer))));

describe('the ssh-agent, certificates included', () => {
  it("lists the agent's keys and certificates in its order, a certificate under its login algorithm", async () => {
    const keys = await identities(certificateAgent(ssh2, sock));
    expect(keys.map((k) => k.type)).toEqual([
      'ssh-ed25519',
      'ssh-ed25519-cert-v01@openssh.com',
      'ssh-rsa',
      'rsa-sha2-512-cert-v01@openssh.com',
    ]);
  });

  it('signs with a certificate as its key does, RSA with SHA-512', async () => {
    const agent = certificateAgent(ssh2, sock);
    const keys = await identities(agent);
    const data = Buffer.from('session id and request');
    const [plainEd, certEd, plainRsa, certRsa] = keys as [ParsedKey, ParsedKey, ParsedKey, ParsedKey];
    expect(plainEd.verify(data, await signed(agent, certEd, data))).toBe(true);
    expect(plainRsa.verify(data, await signed(agent, certRsa, data), 'sha512')).toBe(true);
    // Plain keys sign as ssh2's own agent client signs them.
    expect(plainEd.verify(data, await signed(agent, plainEd, data))).toBe(true);
  });

  it('says "Failed to connect to agent" for a socket nobody listens on, as ssh2 does', async () => {
    await expect(identities(certificateAgent(ssh2, staleSocket(join(work, 'stale.sock'))))).rejects.toThrow('Failed to connect to agent');
  });
});
