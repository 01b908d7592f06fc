import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CredentialEntry, HostEntry } from '../../../src/config/schemas.js';
import { SshgateError } from '../../../src/errors.js';
import { readSecret, resolveAuth, secretEnvName } from '../../../src/ssh/auth.js';
import { tempDir } from '../../support/policy.js';

let keysDir: string;
let secretsDir: string;
const host: HostEntry = { alias: 'web1', host: '10.0.0.1', port: 22, credentials: 'k', tags: [], description: '', shell: 'bash' };
const cred = (c: Partial<CredentialEntry>): CredentialEntry => ({ name: 'k', agent: false, username: 'deploy', ...c });

beforeAll(() => {
  const root = tempDir();
  keysDir = join(root, 'keys');
  secretsDir = join(root, 'secrets');
  mkdirSync(join(keysDir, 'deploy'), { recursive: true });
  mkdirSync(secretsDir);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'hunter2-passphrase', '-f', join(keysDir, 'deploy', 'id_ed25519')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keysDir, 'plain')]);
  writeFileSync(join(secretsDir, 'deploy_pass'), 'hunter2-passphrase\n');
  writeFileSync(join(keysDir, 'not-a-key'), 'hello');
});

const sources = (env: Record<string, string> = {}) => ({ keysDir, secretsDir, env });

function failure(fn: () => unknown): SshgateError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SshgateError);
    return err as SshgateError;
  }
  throw new Error('expected an error');
}

describe('credentials', () => {
  it('name secrets in the environment as SSHGATE_SECRET_<NAME>, before the secrets dir', () => {
    expect(secretEnvName('deploy_pass')).toBe('SSHGATE_SECRET_DEPLOY_PASS');
    expect(secretEnvName('a.b-c')).toBe('SSHGATE_SECRET_A_B_C');
    expect(readSecret('deploy_pass', sources())).toBe('hunter2-passphrase');
    expect(readSecret('deploy_pass', sources({ SSHGATE_SECRET_DEPLOY_PASS: 'from-env' }))).toBe('from-env');
    // Empty is not set, as for every SSHGATE_ variable: the file is read.
    expect(readSecret('deploy_pass', sources({ SSHGATE_SECRET_DEPLOY_PASS: '' }))).toBe('hunter2-passphrase');
  });

  it('decrypt a key with its passphrase secret', () => {
    const auth = resolveAuth(host, cred({ key_path: 'deploy/id_ed25519', key_passphrase_secret: 'deploy_pass' }), sources());
    expect(auth).toMatchObject({ username: 'deploy', passphrase: 'hunter2-passphrase' });
    expect(auth.privateKey?.length).toBeGreaterThan(0);
  });

  it('refuse a wrong or missing passphrase without showing it', () => {
    const wrong = failure(() =>
      resolveAuth(host, cred({ key_path: 'deploy/id_ed25519', key_passphrase_secret: 'deploy_pass' }), sources({ SSHGATE_SECRET_DEPLOY_PASS: 'not-it-xyz' })),
    );
    expect(wrong.message).toMatch(/cannot be decrypted: wrong passphrase/);
    expect(JSON.stringify(wrong)).not.toContain('not-it-xyz');
    expect(failure(() => resolveAuth(host, cred({ key_path: 'deploy/id_ed25519' }), sources())).message).toMatch(/needs a passphrase/);
  });

  it('say which secret is missing and where it was looked for', () => {
    const err = failure(() => resolveAuth(host, cred({ password_secret: 'nope' }), sources()));
    expect(err.message).toBe('secret "nope" is not set');
    expect(err.hint).toContain('SSHGATE_SECRET_NOPE');
    expect(err.hint).toContain(join(secretsDir, 'nope'));
  });

  it('refuse a missing key file, a file that is not a key, and a path out of the keys dir', () => {
    expect(failure(() => resolveAuth(host, cred({ key_path: 'missing' }), sources())).message).toMatch(/cannot be read/);
    expect(failure(() => resolveAuth(host, cred({ key_path: 'not-a-key' }), sources())).message).toMatch(/not a private key/);
    expect(failure(() => resolveAuth(host, cred({ key_path: '../secrets/deploy_pass' }), sources())).message).toMatch(/contains "\.\."/);
  });

  it('use the agent socket, the password secret, and the host user over the credential username', () => {
    expect(resolveAuth({ ...host, user: 'ops' }, cred({ agent: true }), sources({ SSH_AUTH_SOCK: '/tmp/agent.sock' }))).toEqual({ username: 'ops', agent: '/tmp/agent.sock' });
    expect(failure(() => resolveAuth(host, cred({ agent: true }), sources())).message).toMatch(/SSH_AUTH_SOCK is not set/);
    expect(resolveAuth(host, cred({ key_path: 'plain', password_secret: 'deploy_pass' }), sources())).toMatchObject({ password: 'hunter2-passphrase' });
  });
});
