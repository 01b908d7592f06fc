import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fingerprint, parseKnownHosts, verifyHostKey } from '../../../src/ssh/host-keys.js';
import { KnownHostsFile } from '../../../src/ssh/known-hosts-file.js';
import { keygen, signKey } from '../../support/certificates.js';
import { tempDir } from '../../support/policy.js';

let dir: string;
let ca: ReturnType<typeof keygen>;
let otherCa: ReturnType<typeof keygen>;
let host: ReturnType<typeof keygen>;
let good: Buffer;
let expired: Buffer;

beforeAll(() => {
  dir = tempDir();
  ca = keygen(dir, 'ca');
  otherCa = keygen(dir, 'other-ca');
  host = keygen(dir, 'host');
  good = signKey(ca.path, `${host.path}.pub`, { host: true, id: 'web1-2026', principals: ['web1.example', '10.0.0.5'] }).blob;
  expired = signKey(ca.path, `${host.path}.pub`, { host: true, principals: ['web1.example'], validity: '20200101:20200102' }).blob;
});

const caLine = (patterns: string, key = ca) => `@cert-authority ${patterns} ${key.pub}\n`;

describe('host certificates against known_hosts', () => {
  it('are known through an @cert-authority line whose hosts match, on port 22 and as [host]:port', () => {
    const known = parseKnownHosts(caLine('*.example,[10.0.0.5]:2222'));
    expect(verifyHostKey(known, 'web1.example', 22, good)).toEqual({ status: 'match' });
    expect(verifyHostKey(known, '10.0.0.5', 2222, good)).toEqual({ status: 'match' });
    // The line's hosts do not match: no CA applies, and the certified key is not known either.
    expect(verifyHostKey(known, '10.0.0.5', 22, good)).toMatchObject({
      status: 'unknown',
      certificate: expect.stringMatching(/no @cert-authority line applies/),
    });
  });

  it('are refused when they do not name the host, naming the CA line and the key id', () => {
    const known = parseKnownHosts(caLine('*'));
    expect(verifyHostKey(known, 'web2.example', 22, good)).toEqual({
      status: 'certificate_refused',
      reason: 'its principals ("web1.example", "10.0.0.5") do not include "web2.example", the host name sshgate connects to',
      line: 1,
      keyId: 'web1-2026',
    });
  });

  it('are refused once expired', () => {
    const known = parseKnownHosts(caLine('*'));
    expect(verifyHostKey(known, 'web1.example', 22, expired)).toMatchObject({
      status: 'certificate_refused',
      reason: 'it expired at 2020-01-02T00:00:00Z',
    });
    // Judged at the time given: the same certificate was good on its day.
    expect(verifyHostKey(known, 'web1.example', 22, expired, 1_577_880_000n)).toEqual({ status: 'match' });
  });

  it('signed by a CA that no line lists are refused when other CAs are listed for the host, unknown when none is', () => {
    const foreign = signKey(otherCa.path, `${host.path}.pub`, { host: true, principals: ['web1.example'] }).blob;
    expect(verifyHostKey(parseKnownHosts(caLine('*')), 'web1.example', 22, foreign)).toMatchObject({
      status: 'certificate_refused',
      reason: expect.stringContaining(`signed by the CA ${fingerprint(otherCa.blob)}`),
    });
    expect(verifyHostKey(parseKnownHosts(''), 'web1.example', 22, foreign)).toMatchObject({ status: 'unknown' });
  });

  it('are refused when the certified key or the CA is @revoked, even with a valid CA line', () => {
    const revokedKey = parseKnownHosts(caLine('*') + `@revoked * ${host.pub}\n`);
    expect(verifyHostKey(revokedKey, 'web1.example', 22, good)).toEqual({ status: 'revoked', offered: fingerprint(host.blob) });
    const revokedCa = parseKnownHosts(caLine('*') + `@revoked * ${ca.pub}\n`);
    expect(verifyHostKey(revokedCa, 'web1.example', 22, good)).toEqual({
      status: 'revoked',
      offered: fingerprint(ca.blob),
      authority: true,
    });
  });

  it('fall back to the certified key as a plain key, as OpenSSH does: a key line still makes the host known', () => {
    const known = parseKnownHosts(`web1.example ${host.pub}\n`);
    expect(verifyHostKey(known, 'web1.example', 22, expired)).toEqual({ status: 'match' });
    const other = keygen(dir, 'other-host');
    expect(verifyHostKey(parseKnownHosts(`web1.example ${other.pub}\n`), 'web1.example', 22, good)).toMatchObject({ status: 'mismatch' });
  });

  it('a CA key is never a host key: a host offering the CA key itself is not known', () => {
    expect(verifyHostKey(parseKnownHosts(caLine('*')), 'web1.example', 22, ca.blob)).toEqual({ status: 'unknown', authorityLine: 1 });
  });

  it('an @cert-authority line naming a certificate is skipped and said so', () => {
    const known = parseKnownHosts(`@cert-authority * ssh-ed25519-cert-v01@openssh.com ${good.toString('base64')}\n`);
    expect(known.entries).toHaveLength(0);
    expect(known.skipped[0]?.reason).toMatch(/a CA is a plain key/);
  });

  it('under accept-new, a host known through a CA never has a key recorded in place of its certificate', () => {
    const file = join(dir, 'known_hosts_accept');
    writeFileSync(file, caLine('*.example'));
    const hostKeys = new KnownHostsFile(file, 'accept-new');
    expect(hostKeys.authoritiesFor('web1.example', 22).map((e) => e.line)).toEqual([1]);
    expect(hostKeys.verify('web1.example', 22, host.blob)).toEqual({ status: 'unknown', authorityLine: 1 });
    expect(hostKeys.verify('elsewhere', 22, good)).toMatchObject({ status: 'unknown', certificate: expect.any(String) });
    expect(readFileSync(file, 'utf8')).toBe(caLine('*.example'));
    // A host no CA line covers is still recorded on first use.
    expect(hostKeys.verify('elsewhere', 22, host.blob)).toEqual({ status: 'match' });
    expect(readFileSync(file, 'utf8')).toContain(`elsewhere ${host.pub.split(' ').slice(0, 2).join(' ')}`);
  });
});
