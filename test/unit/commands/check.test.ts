import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/commands/dispatch.js';
import { captureIo, tempDir } from '../../support/policy.js';
import { listeningSocket, staleSocket } from '../../support/sockets.js';

async function check(env: Record<string, string> = {}, ...argv: string[]) {
  const io = captureIo();
  const code = await runCli(['check', ...argv], env, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

const count = (text: string, part: string) => text.split(part).length - 1;

describe('sshgate check: credentials', () => {
  it('warns of a credential problem once, naming every host it stops, with its hint', async () => {
    const r = await check();
    expect(r.code).toBe(0);
    // bastion, web1 and web2 share deploy-key: one warning, not three.
    expect(count(r.out, 'the key of credential "deploy-key" cannot be read')).toBe(1);
    expect(r.out).toContain(
      '  hosts "bastion", "web1", "web2": the key of credential "deploy-key" cannot be read: config/keys/deploy/id_ed25519\n' +
        '    hint: put the private key at config/keys/deploy/id_ed25519, readable by sshgate\n',
    );
    expect(r.out).toContain('  host "stg-app-1": secret "legacy_pw" is not set\n    hint: set SSHGATE_SECRET_LEGACY_PW or create the file /run/secrets/legacy_pw\n');
  });


  it('warns once when SSH_AUTH_SOCK is a socket nothing answers at, and not when an agent listens', async () => {
    const dir = tempDir();
    const stale = staleSocket(join(dir, 'stale.sock'));
    const r = await check({ SSH_AUTH_SOCK: stale });
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      `  host "db1": the ssh-agent at SSH_AUTH_SOCK (${stale}) does not answer (ECONNREFUSED)\n` +
        '    hint: start ssh-agent and ssh-add the key, then give sshgate the SSH_AUTH_SOCK that ssh-agent prints\n',
    );
    expect(count(r.out, 'SSH_AUTH_SOCK (')).toBe(1);
    const gone = await check({ SSH_AUTH_SOCK: join(dir, 'gone.sock') });
    expect(gone.out).toContain(`  host "db1": credential "ops-agent" uses the agent, but nothing is at SSH_AUTH_SOCK (${join(dir, 'gone.sock')})\n`);
    expect(count(gone.out, 'SSH_AUTH_SOCK (')).toBe(1);
    const agent = await listeningSocket(join(dir, 'agent.sock'));
    try {
      expect((await check({ SSH_AUTH_SOCK: join(dir, 'agent.sock') })).out).not.toContain('SSH_AUTH_SOCK');
    } finally {
      agent.close();
    }
  });
});
