import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  certificateSignatureProblem,
  certifiedKeyOf,
  hostCertificateProblem,
  MAX_PRINCIPALS,
  parseCertificate,
  parseCertificateLine,
  signatureAlgorithm,
  type Certificate,
} from '../../../src/ssh/certificates.js';
import { WireError } from '../../../src/ssh/wire.js';
import { forge, keygen, nodeCa, signKey, str } from '../../support/certificates.js';
import { tempDir } from '../../support/policy.js';

let dir: string;
const NOW = BigInt(Math.floor(Date.now() / 1000));

beforeAll(() => {
  dir = tempDir();
});

/** Parses and judges as a host would: undefined when the certificate vouches for `host` now. */
function hostProblem(cert: Certificate, host: string, now = NOW): string | undefined {
  return certificateSignatureProblem(cert) ?? hostCertificateProblem(cert, host, now);
}

describe('certificates made by ssh-keygen -s', () => {
  it('are read field by field: type, role, key id, principals, validity, serial, the certified key and the CA', () => {
    const ca = keygen(dir, 'ca-fields');
    const host = keygen(dir, 'host-fields');
    const { blob } = signKey(ca.path, `${host.path}.pub`, {
      host: true,
      id: 'web1 host key',
      principals: ['web1.example', '10.0.0.5'],
      validity: '20300101:20310101',
      serial: 42,
    });
    const cert = parseCertificate(blob);
    expect(cert.type).toBe('ssh-ed25519-cert-v01@openssh.com');
    expect(cert.role).toBe('host');
    expect(cert.keyId).toBe('web1 host key');
    expect(cert.principals).toEqual(['web1.example', '10.0.0.5']);
    expect(cert.serial).toBe(42n);
    expect(new Date(Number(cert.validAfter) * 1000).getUTCFullYear()).toBe(2030);
    expect(cert.key.equals(host.blob)).toBe(true);
    expect(cert.signatureKey.equals(ca.blob)).toBe(true);
    expect(certifiedKeyOf(blob)?.equals(host.blob)).toBe(true);
    expect(certifiedKeyOf(host.blob)).toBe(host.blob);
    expect(parseCertificateLine(`${signKey(ca.path, `${host.path}.pub`, { host: true, principals: ['x'] }).line}\n`).cert.role).toBe(
      'host',
    );
  });

  it.each([
    ['ed25519', undefined, 'ed25519', undefined],
    ['ecdsa', 256, 'ecdsa', 384],
    ['ecdsa', 521, 'rsa', 2048],
    ['rsa', 2048, 'ecdsa', 256],
  ])('verify the signature of a %s %s CA over a %s %s key', (caType, caBits, keyType, keyBits) => {
    const name = `${caType}${caBits ?? ''}-${keyType}${keyBits ?? ''}`;
    const ca = keygen(dir, `ca-${name}`, caType, caBits);
    const host = keygen(dir, `host-${name}`, keyType, keyBits);
    const cert = parseCertificate(signKey(ca.path, `${host.path}.pub`, { host: true, principals: ['web1'] }).blob);
    expect(cert.key.equals(host.blob)).toBe(true);
    expect(hostProblem(cert, 'web1')).toBeUndefined();
  });

  it('refuses a CA signature made with ssh-rsa (SHA-1), as OpenSSH does', () => {
    const ca = keygen(dir, 'ca-sha1', 'rsa', 2048);
    const host = keygen(dir, 'host-sha1');
    const cert = parseCertificate(signKey(ca.path, `${host.path}.pub`, { host: true, principals: ['web1'], rsaAlgorithm: 'ssh-rsa' }).blob);
    expect(certificateSignatureProblem(cert)).toMatch(/ssh-rsa \(SHA-1\)/);
  });

  it('do not verify once a byte they sign has changed, or their signature has', () => {
    const ca = keygen(dir, 'ca-tamper');
    const host = keygen(dir, 'host-tamper');
    const { blob } = signKey(ca.path, `${host.path}.pub`, { host: true, principals: ['web1'] });
    const principal = blob.indexOf('web1');
    const renamed = Buffer.from(blob);
    renamed.write('web2', principal);
    expect(hostProblem(parseCertificate(renamed), 'web2')).toBe('its CA signature does not verify');
    const resigned = Buffer.from(blob);
    resigned[resigned.length - 1] = (resigned[resigned.length - 1] as number) ^ 1;
    expect(hostProblem(parseCertificate(resigned), 'web1')).toBe('its CA signature does not verify');
  });

  it('vouch for a host only as a host certificate, valid now, naming it', () => {
    const ca = keygen(dir, 'ca-judge');
    const host = keygen(dir, 'host-judge');
    const cert = (o: Parameters<typeof signKey>[2]) => parseCertificate(signKey(ca.path, `${host.path}.pub`, o).blob);
    expect(hostProblem(cert({ host: true, principals: ['web1.example'] }), 'WEB1.example')).toBeUndefined();
    expect(hostProblem(cert({ host: true, principals: ['web1.example'] }), 'web2.example')).toMatch(
      /principals \("web1.example"\) do not include "web2.example"/,
    );
    expect(hostProblem(cert({ host: true, principals: ['web1'], validity: '20200101:20200102' }), 'web1')).toBe(
      'it expired at 2020-01-02T00:00:00Z',
    );
    expect(hostProblem(cert({ host: true, principals: ['web1'], validity: '20300101:20310101' }), 'web1')).toBe(
      'it is not valid before 2030-01-01T00:00:00Z',
    );
    // OpenSSH takes a host certificate without principals for any host; sshgate does not.
    expect(hostProblem(cert({ host: true }), 'web1')).toMatch(/names no principal/);
    expect(hostProblem(cert({ principals: ['web1'] }), 'web1')).toMatch(/user certificate/);
    // Wildcards are not patterns in a principal: compared exactly, as OpenSSH's client does.
    expect(hostProblem(cert({ host: true, principals: ['*.example'] }), 'web1.example')).toMatch(/do not include/);
  });
});

describe('hostile certificate blobs', () => {
  const ca = nodeCa();
  const valid = forge({ ca });

  it('a forged certificate is read and vouches as made', () => {
    expect(hostProblem(parseCertificate(valid), 'web1')).toBeUndefined();
  });

  it('every truncation is a WireError, never another error or a partial certificate', () => {
    for (let n = 0; n < valid.length; n++) expect(() => parseCertificate(valid.subarray(0, n)), `at ${n}`).toThrow(WireError);
    expect(() => parseCertificate(Buffer.concat([valid, Buffer.from([0])]))).toThrow(/follow the end/);
  });

  it('a length past the end, anywhere, is a WireError', () => {
    for (let at = 0; at + 4 <= valid.length; at++) {
      const b = Buffer.from(valid);
      b.writeUInt32BE(0xffff_ffff, at);
      let thrown: unknown;
      try {
        parseCertificate(b);
      } catch (err) {
        thrown = err;
      }
      if (thrown !== undefined) expect(thrown, `at ${at}`).toBeInstanceOf(WireError);
    }
  });

  it('refuses types it does not take, roles that are neither user nor host, and malformed keys', () => {
    const retyped = (type: string) => Buffer.concat([str(type), valid.subarray(4 + 'ssh-ed25519-cert-v01@openssh.com'.length)]);
    expect(() => parseCertificate(retyped('ssh-dss-cert-v01@openssh.com'))).toThrow(/not a certificate type/);
    expect(() => parseCertificate(retyped('ssh-ed25519'))).toThrow(/not a certificate type/);
    expect(() => parseCertificate(forge({ role: 3 }))).toThrow(/neither user/);
    expect(() => parseCertificate(forge({ pk: Buffer.alloc(31) }))).toThrow(/not 32/);
    expect(certifiedKeyOf(retyped('ecdsa-sha2-nistp256-cert-v01@openssh.com'))).toBeUndefined();
  });

  it('refuses duplicate options, NUL in names, and more principals than OpenSSH allows', () => {
    expect(() =>
      parseCertificate(
        forge({
          extensions: [
            ['permit-pty', Buffer.alloc(0)],
            ['permit-pty', Buffer.alloc(0)],
          ],
        }),
      ),
    ).toThrow(/appears twice/);
    expect(() => parseCertificate(forge({ principals: [Buffer.from('web1\0evil')] }))).toThrow(/NUL/);
    const many = Array.from({ length: MAX_PRINCIPALS + 1 }, (_, i) => Buffer.from(`h${i}`));
    expect(() => parseCertificate(forge({ principals: many }))).toThrow(/more than 256/);
    expect(() => parseCertificate(forge({ keyId: 'x'.repeat(70_000) }))).toThrow(/more than 65536/);
  });

  it('a host certificate with any critical option is refused; extensions are ignored', () => {
    expect(hostProblem(parseCertificate(forge({ ca, critical: [['source-address', str('10.0.0.0/8')]] })), 'web1')).toMatch(
      /critical options/,
    );
    expect(hostProblem(parseCertificate(forge({ ca, extensions: [['whatever@example.com', Buffer.alloc(0)]] })), 'web1')).toBeUndefined();
  });

  it('validity is valid_after <= now < valid_before, to the second', () => {
    const cert = parseCertificate(forge({ ca, validAfter: 100n, validBefore: 200n }));
    expect(hostCertificateProblem(cert, 'web1', 99n)).toMatch(/not valid before/);
    expect(hostCertificateProblem(cert, 'web1', 100n)).toBeUndefined();
    expect(hostCertificateProblem(cert, 'web1', 199n)).toBeUndefined();
    expect(hostCertificateProblem(cert, 'web1', 200n)).toMatch(/expired/);
  });

  it('a signature key that is itself a certificate (a chain) is refused', () => {
    const chained = { key: ca.key, blob: forge({ ca }) };
    expect(certificateSignatureProblem(parseCertificate(forge({ ca: chained })))).toMatch(/cannot be checked/);
  });

  it('any change of any byte either fails to parse with a WireError or fails to verify', () => {
    fc.assert(
      fc.property(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const b = Buffer.from(valid);
        b[at] = (b[at] as number) ^ x;
        let cert: Certificate;
        try {
          cert = parseCertificate(b);
        } catch (err) {
          return err instanceof WireError;
        }
        return hostProblem(cert, 'web1') !== undefined;
      }),
      { numRuns: 2000 },
    );
  });
});

describe('algorithm names', () => {
  it('a certificate signs with its key algorithm; other names are their own', () => {
    expect(signatureAlgorithm('ssh-ed25519-cert-v01@openssh.com')).toBe('ssh-ed25519');
    expect(signatureAlgorithm('rsa-sha2-512-cert-v01@openssh.com')).toBe('rsa-sha2-512');
    expect(signatureAlgorithm('ecdsa-sha2-nistp384-cert-v01@openssh.com')).toBe('ecdsa-sha2-nistp384');
    expect(signatureAlgorithm('rsa-sha2-256')).toBe('rsa-sha2-256');
    expect(signatureAlgorithm('ssh-ed25519')).toBe('ssh-ed25519');
  });
});
