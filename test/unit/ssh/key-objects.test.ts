import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PUBLIC_KEY_OBJECTS, publicKeyObject } from '../../../src/ssh/key-objects.js';
import { loadSsh2, ssh2CertificatesUnavailable } from '../../../src/ssh/ssh2.js';
import { tempDir } from '../../support/policy.js';

/** An OpenSSH private key file and its public line, made by ssh-keygen. */
function keyPair(type: 'ed25519' | 'ecdsa' | 'rsa'): { priv: string; pub: string } {
  const file = join(tempDir(), `id_${type}`);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', file]);
  return { priv: readFileSync(file, 'utf8'), pub: readFileSync(`${file}.pub`, 'utf8') };
}

describe('key objects', () => {
  it('are kept by their text for public keys, the oldest going first past the bound', async () => {
    const { utils } = await loadSsh2();
    const pemOf = (line: string) => (utils.parseKey(line) as { getPublicPEM(): string }).getPublicPEM();
    const a = pemOf(keyPair('ed25519').pub);
    const first = publicKeyObject(a);
    expect(publicKeyObject(a)).toBe(first);
    // Fill the rest with distinct texts: an Ed25519 SPKI PEM with its key bytes varied.
    const body = a.replace(/-----[^-]+-----/g, '').replace(/\s/g, '');
    for (let i = 0; i < PUBLIC_KEY_OBJECTS; i++) {
      const der = Buffer.from(body, 'base64');
      der.writeUInt32BE(i, der.length - 4);
      publicKeyObject(`-----BEGIN PUBLIC KEY-----\n${der.toString('base64')}\n-----END PUBLIC KEY-----\n`);
    }
    expect(publicKeyObject(a)).not.toBe(first);
  });

  it('throw as Node would on a text that is no key', () => {
    expect(() => publicKeyObject('not a key')).toThrow();
  });
});

describe("ssh2's keys, verifying through them", () => {
  it.each(['ed25519', 'ecdsa', 'rsa'] as const)('%s: a signature verifies, a changed one or other data does not', async (type) => {
    const ssh2 = await loadSsh2();
    expect(ssh2CertificatesUnavailable()).toBeUndefined();
    const { priv, pub } = keyPair(type);
    type Key = { sign(d: Buffer, algo?: string): Buffer | Error; verify(d: Buffer, s: Buffer, algo?: string): boolean | Error };
    const signer = ssh2.utils.parseKey(priv) as unknown as Key;
    const checker = ssh2.utils.parseKey(pub) as unknown as Key;
    const data = Buffer.from('exchange hash');
    for (const algo of type === 'rsa' ? ['sha256', 'sha512'] : [undefined]) {
      const sig = signer.sign(data, algo);
      expect(sig).toBeInstanceOf(Buffer);
      expect(checker.verify(data, sig as Buffer, algo)).toBe(true);
      // Twice: the second goes through the kept object.
      expect(checker.verify(data, signer.sign(data, algo) as Buffer, algo)).toBe(true);
      const bad = Buffer.from(sig as Buffer);
      bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 1;
      expect(checker.verify(data, bad, algo)).not.toBe(true);
      expect(checker.verify(Buffer.from('other'), sig as Buffer, algo)).not.toBe(true);
    }
  });
});
