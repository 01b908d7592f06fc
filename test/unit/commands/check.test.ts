import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/commands/dispatch.js';
import { captureIo } from '../../support/policy.js';

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

});
