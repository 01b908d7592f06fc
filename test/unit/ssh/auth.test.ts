import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CredentialEntry, HostEntry } from '../../../src/config/file-formats.js';
import { readSecret, resolveAuth, secretEnvName } from '../../../src/ssh/auth.js';
import { loadSsh2 } from '../../../src/ssh/ssh2.js';
import { tempDir } from '../../support/policy.js';
import { listeningSocket, staleSocket } from '../../support/sockets.js';
import { failure } from '../../support/errors.js';

let keysDir: string;
let secretsDir: string;
let root: string;
let agent: Server;
const host: HostEntry = { alias: 'web1', host: '10.0.0.1', port: 22, credentials: 'k', tags: [], description: '', shell: 'bash' };
const cred = (c: Partial<CredentialEntry>): CredentialEntry => ({ name: 'k', agent: false, username: 'deploy', ...c });

beforeAll(async () => {
  // Keys are parsed with ssh2, which a server loads when it is first needed.
  await loadSsh2();
  root = tempDir();
  agent = await listeningSocket(join(root, 'agent.sock'));
  keysDir = join(root, 'keys');
  secretsDir = join(root, 'secrets');
  mkdirSync(join(keysDir, 'deploy'), { recursive: true });
  mkdirSync(secretsDir);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'hunter2-passphrase', '-f', join(keysDir, 'deploy', 'id_ed25519')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keysDir, 'plain')]);
  writeFileSync(join(secretsDir, 'deploy_pass'), 'hunter2-passphrase\n');
  writeFileSync(join(keysDir, 'not-a-key'), 'hello', { mode: 0o600 });
});

afterAll(() => agent?.close());

const sources = (env: Record<string, string> = {}) => ({ keysDir, secretsDir, env });

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
      resolveAuth(
        host,
        cred({ key_path: 'deploy/id_ed25519', key_passphrase_secret: 'deploy_pass' }),
        sources({ SSHGATE_SECRET_DEPLOY_PASS: 'not-it-xyz' }),
      ),
    );
    expect(wrong.message).toMatch(/cannot be decrypted: wrong passphrase/);
    expect(JSON.stringify(wrong)).not.toContain('not-it-xyz');
    const needs = failure(() => resolveAuth(host, cred({ key_path: 'deploy/id_ed25519' }), sources()));
    expect(needs.message).toMatch(/needs a passphrase/);
    expect(needs.hint).toBe('set key_passphrase_secret and its secret for credential "k"');
  });

  it('say where a wrong passphrase was read from, since key_passphrase_secret is already set', () => {
    const key = join(keysDir, 'deploy', 'id_ed25519');
    const fromEnv = failure(() =>
      resolveAuth(
        host,
        cred({ key_path: 'deploy/id_ed25519', key_passphrase_secret: 'deploy_pass' }),
        sources({ SSHGATE_SECRET_DEPLOY_PASS: 'not-it-xyz' }),
      ),
    );
    expect(fromEnv.hint).toBe(
      `the passphrase of secret "deploy_pass", read from SSHGATE_SECRET_DEPLOY_PASS, does not open ${key}: set it to the key's passphrase (ssh-keygen -y -f ${key} tests one)`,
    );
    writeFileSync(join(secretsDir, 'stale_pass'), 'an old passphrase\n');
    const fromFile = failure(() =>
      resolveAuth(host, cred({ key_path: 'deploy/id_ed25519', key_passphrase_secret: 'stale_pass' }), sources()),
    );
    expect(fromFile.hint).toBe(
      `the passphrase of secret "stale_pass", read from ${join(secretsDir, 'stale_pass')}, does not open ${key}: set it to the key's passphrase (ssh-keygen -y -f ${key} tests one)`,
    );
    expect(JSON.stringify(fromFile)).not.toContain('an old passphrase');
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
    const sock = join(root, 'agent.sock');
    expect(resolveAuth({ ...host, user: 'ops' }, cred({ agent: true }), sources({ SSH_AUTH_SOCK: sock }))).toEqual({
      username: 'ops',
      agent: sock,
      origin: { userFrom: 'servers.yml', credential: 'k', offered: ['a key of the ssh-agent'] },
    });
    expect(resolveAuth(host, cred({ key_path: 'plain', agent: true }), sources({ SSH_AUTH_SOCK: sock })).origin).toEqual({
      userFrom: 'credentials.yml',
      credential: 'k',
      offered: ['the key plain', 'a key of the ssh-agent'],
    });
    expect(failure(() => resolveAuth(host, cred({ agent: true }), sources())).message).toMatch(/SSH_AUTH_SOCK is not set/);
    expect(resolveAuth(host, cred({ key_path: 'plain', password_secret: 'deploy_pass' }), sources())).toMatchObject({
      password: 'hunter2-passphrase',
    });
  });

  it('refuse a key that group or others may read or write, as OpenSSH does, with the chmod to run', () => {
    for (const mode of [0o644, 0o640, 0o604, 0o620, 0o602, 0o660]) {
      const name = `open-${mode.toString(8)}`;
      copyFileSync(join(keysDir, 'plain'), join(keysDir, name));
      chmodSync(join(keysDir, name), mode);
      const err = failure(() => resolveAuth(host, cred({ key_path: name }), sources()));
      expect(err.code).toBe('invalid_config');
      expect(err.message).toBe(
        `the key of credential "k" (${join(keysDir, name)}) has mode 0${mode.toString(8)}, open to others than its owner; OpenSSH refuses such a key, and so does sshgate`,
      );
      expect(err.hint).toBe(`chmod 600 ${join(keysDir, name)}`);
    }
    // The hint is a command to paste: a path with a space is quoted.
    mkdirSync(join(keysDir, 'my keys'));
    copyFileSync(join(keysDir, 'plain'), join(keysDir, 'my keys', 'id'));
    chmodSync(join(keysDir, 'my keys', 'id'), 0o644);
    expect(failure(() => resolveAuth(host, cred({ key_path: 'my keys/id' }), sources())).hint).toBe(
      `chmod 600 '${join(keysDir, 'my keys', 'id')}'`,
    );
  });

  it('take a key of mode 600 or 400', () => {
    copyFileSync(join(keysDir, 'plain'), join(keysDir, 'read-only'));
    chmodSync(join(keysDir, 'read-only'), 0o400);
    expect(resolveAuth(host, cred({ key_path: 'read-only' }), sources()).parsedKey).toBeDefined();
    expect(resolveAuth(host, cred({ key_path: 'plain' }), sources()).parsedKey).toBeDefined();
  });

  // Giving a file to another user takes root.
  it.skipIf(process.getuid?.() !== 0)('take a key owned by another user whatever its mode (a Docker secret)', () => {
    // OpenSSH checks only the modes of a key the user owns.
    copyFileSync(join(keysDir, 'plain'), join(keysDir, 'theirs'));
    chmodSync(join(keysDir, 'theirs'), 0o444);
    chownSync(join(keysDir, 'theirs'), 65534, 65534);
    expect(resolveAuth(host, cred({ key_path: 'theirs' }), sources()).parsedKey).toBeDefined();
  });

  it('refuse a key_path that names the public key, and name the private one to give instead', () => {
    // A .pub file is usually mode 644: what to fix is the path, not the mode.
    const pub = failure(() => resolveAuth(host, cred({ key_path: 'plain.pub' }), sources()));
    expect(pub.message).toBe(
      `key_path of credential "k" names a public key (${join(keysDir, 'plain.pub')}); sshgate logs in with the private key`,
    );
    expect(pub.hint).toBe('set key_path: plain, the private key beside it');
    copyFileSync(join(keysDir, 'plain.pub'), join(keysDir, 'id-copy'));
    expect(failure(() => resolveAuth(host, cred({ key_path: 'id-copy' }), sources())).hint).toBe(
      'set key_path to the private key file (ssh-keygen wrote it beside the .pub file, without the .pub)',
    );
    const absent = failure(() => resolveAuth(host, cred({ key_path: 'deploy/id_rsa.pub' }), sources()));
    expect(absent.message).toMatch(/cannot be read/);
    expect(absent.hint).toBe('key_path names a .pub file: set it to the private key, deploy/id_rsa');
  });

  it('refuse an SSH_AUTH_SOCK where nothing is, or that is no socket, with what to start', () => {
    const gone = failure(() => resolveAuth(host, cred({ agent: true }), sources({ SSH_AUTH_SOCK: join(root, 'gone.sock') })));
    expect(gone.message).toBe(`credential "k" uses the agent, but nothing is at SSH_AUTH_SOCK (${join(root, 'gone.sock')})`);
    expect(gone.hint).toBe('start ssh-agent and ssh-add the key, then give sshgate the SSH_AUTH_SOCK that ssh-agent prints');
    const file = failure(() => resolveAuth(host, cred({ agent: true }), sources({ SSH_AUTH_SOCK: join(secretsDir, 'deploy_pass') })));
    expect(file.message).toBe(`credential "k" uses the agent, but SSH_AUTH_SOCK (${join(secretsDir, 'deploy_pass')}) is not a socket`);
    // A socket left behind is a socket: only connecting tells (sshgate check, and the connection).
    expect(resolveAuth(host, cred({ agent: true }), sources({ SSH_AUTH_SOCK: staleSocket(join(root, 'stale.sock')) })).agent).toBe(
      join(root, 'stale.sock'),
    );
  });
});
