import { copyFileSync, mkdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CredentialEntry, HostEntry } from '../../../src/config/file-formats.js';
import { refusalHint, resolveAuth } from '../../../src/ssh/auth.js';
import { loadSsh2 } from '../../../src/ssh/ssh2.js';
import { keygen, signKey } from '../../support/certificates.js';
import { tempDir } from '../../support/policy.js';
import { failure } from '../../support/errors.js';

let keysDir: string;
let work: string;
let ca: ReturnType<typeof keygen>;
const host: HostEntry = { alias: 'web1', host: '10.0.0.1', port: 22, credentials: 'k', tags: [], description: '', shell: 'bash' };
const cred = (c: Partial<CredentialEntry>): CredentialEntry => ({ name: 'k', agent: false, username: 'deploy', ...c });
const sources = () => ({ keysDir, secretsDir: work, env: {} });

/** A key in the keys dir under `name`, with a certificate signed with `o` written to `certAs` (beside it by default). */
function keyWithCert(name: string, o: Parameters<typeof signKey>[2], certAs = `${name}-cert.pub`): void {
  const k = keygen(work, name);
  const cert = signKey(ca.path, `${k.path}.pub`, o);
  copyFileSync(k.path, join(keysDir, name));
  copyFileSync(cert.path, join(keysDir, certAs));
}

beforeAll(async () => {
  await loadSsh2();
  work = tempDir();
  keysDir = join(work, 'keys');
  mkdirSync(keysDir);
  ca = keygen(work, 'ca');
});

describe('a key credential with a user certificate', () => {
  it('takes <key>-cert.pub beside the key, offers it first, and presents the certificate', () => {
    keyWithCert('beside', { principals: ['deploy'], id: 'beside-id' });
    const auth = resolveAuth(host, cred({ key_path: 'beside' }), sources());
    expect(auth.origin?.offered).toEqual(['the certificate beside-cert.pub', 'the key beside']);
    const { key, cert } = auth.certificate!.current();
    expect(cert.keyId).toBe('beside-id');
    expect(key.type).toBe('ssh-ed25519-cert-v01@openssh.com');
    expect(key.getPublicSSH().equals(auth.parsedKey!.getPublicSSH())).toBe(false);
    // The signature is the key's own: it verifies with the plain key.
    const data = Buffer.from('session data');
    expect(auth.parsedKey!.verify(data, key.sign(data))).toBe(true);
  });

  it('takes certificate_path instead, and without one and without a file beside the key, none', () => {
    keyWithCert('explicit', { principals: ['deploy'] }, 'issued.pub');
    expect(resolveAuth(host, cred({ key_path: 'explicit', certificate_path: 'issued.pub' }), sources()).certificate?.path).toBe(
      'issued.pub',
    );
    expect(resolveAuth(host, cred({ key_path: 'explicit' }), sources()).certificate).toBeUndefined();
    const missing = failure(() => resolveAuth(host, cred({ key_path: 'explicit', certificate_path: 'nowhere.pub' }), sources()));
    expect(missing.message).toContain('nowhere.pub) cannot be read');
  });

  it('refuses a host certificate, a certificate of another key, and a file that is no certificate', () => {
    keyWithCert('hostcert', { host: true, principals: ['web1'] });
    expect(failure(() => resolveAuth(host, cred({ key_path: 'hostcert' }), sources())).message).toContain('is a host certificate');
    keyWithCert('mine', { principals: ['deploy'] });
    keyWithCert('theirs', { principals: ['deploy'] });
    const other = failure(() => resolveAuth(host, cred({ key_path: 'mine', certificate_path: 'theirs-cert.pub' }), sources()));
    expect(other.code).toBe('invalid_config');
    expect(other.message).toMatch(/certifies another key \(SHA256:.*\), not the credential's/);
    copyFileSync(join(keysDir, 'mine'), join(keysDir, 'garbage-cert.pub'));
    expect(failure(() => resolveAuth(host, cred({ key_path: 'mine', certificate_path: 'garbage-cert.pub' }), sources())).message).toContain(
      'is not an OpenSSH certificate',
    );
    expect(failure(() => resolveAuth(host, cred({ key_path: 'mine', certificate_path: '../x-cert.pub' }), sources())).message).toMatch(
      /^certificate_path "..\/x-cert.pub" contains ".."/,
    );
  });

  it('reads the certificate again once the file changes: a renewed certificate needs no reload', () => {
    keyWithCert('renewed', { principals: ['deploy'], id: 'first' });
    const auth = resolveAuth(host, cred({ key_path: 'renewed' }), sources());
    expect(auth.certificate!.current().cert.keyId).toBe('first');
    const k = join(work, 'renewed');
    const next = signKey(ca.path, `${k}.pub`, { principals: ['deploy'], id: 'second' });
    copyFileSync(next.path, join(keysDir, 'renewed-cert.pub'));
    // Another second, as a renewal a second later would be, whatever the file system's time grain.
    utimesSync(join(keysDir, 'renewed-cert.pub'), new Date(), new Date(Date.now() + 2000));
    expect(auth.certificate!.current().cert.keyId).toBe('second');
  });

  it("says in a refusal's hint what the certificate shows against the login: expiry, or principals", () => {
    keyWithCert('old', { principals: ['deploy'], validity: '20200101:20200102', id: 'old-id' });
    const expired = resolveAuth(host, cred({ key_path: 'old' }), sources());
    expect(refusalHint('web1', expired)).toContain(
      'the certificate old-cert.pub (key id "old-id", valid 2020-01-01T00:00:00Z to 2020-01-02T00:00:00Z) cannot log in: it expired at 2020-01-02T00:00:00Z',
    );
    keyWithCert('named', { principals: ['alice', 'bob'] });
    expect(refusalHint('web1', resolveAuth(host, cred({ key_path: 'named' }), sources()))).toContain(
      'its principals (alice, bob) do not include the user "deploy"',
    );
    // A certificate that looks right leaves the usual hint.
    keyWithCert('fine', { principals: ['deploy'] });
    expect(refusalHint('web1', resolveAuth(host, cred({ key_path: 'fine' }), sources()))).toContain(
      'accept the certificate fine-cert.pub or the key fine',
    );
  });
});
