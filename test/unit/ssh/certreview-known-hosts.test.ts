/**
 * Adversarial review: known_hosts host fields and certificate type names that OpenSSH reads one
 * way and a reimplementation could read another.
 */
import { createHmac } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { certifiedKeyOf, parseCertificate } from '../../../src/ssh/certificates.js';
import { parseKnownHosts, verifyHostKey } from '../../../src/ssh/host-keys.js';
import { WireError } from '../../../src/ssh/wire.js';
import { keygen, signKey, str, u32, u64 } from '../../support/certificates.js';
import { tempDir } from '../../support/policy.js';

let ca: ReturnType<typeof keygen>;
let host: ReturnType<typeof keygen>;
let cert: Buffer;

beforeAll(() => {
  const dir = tempDir();
  ca = keygen(dir, 'ca');
  host = keygen(dir, 'host');
  cert = signKey(ca.path, `${host.path}.pub`, { host: true, principals: ['web1.example'] }).blob;
});

const hashed = (name: string, salt = Buffer.alloc(20, 3)) =>
  `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;

describe('known_hosts host fields, as OpenSSH reads them', () => {
  it('a hashed CA line vouches for the hashed host only', () => {
    const known = parseKnownHosts(`@cert-authority ${hashed('web1.example')} ${ca.pub}\n`);
    expect(verifyHostKey(known, 'web1.example', 22, cert)).toEqual({ status: 'match' });
    expect(verifyHostKey(known, 'web2.example', 22, cert).status).not.toBe('match');
  });

  it('a hashed host in a servers.yml written in capitals is looked up lower-cased, as ssh lower-cases it', () => {
    // OpenSSH lower-cases the host name before hashing it; a hashed line written by ssh-keygen -H
    // for web1.example therefore matches WEB1.example too. (Fails closed when it does not.)
    const known = parseKnownHosts(`@cert-authority ${hashed('web1.example')} ${ca.pub}\n`);
    expect(verifyHostKey(known, 'WEB1.example', 22, cert)).toEqual({ status: 'match' });
  });

  it('@revoked with a negated hashed name still revokes for that host, as in OpenSSH', () => {
    // OpenSSH hashes only a host field that starts with "|" (match_maybe_hashed), whole; in a
    // pattern list "!|1|…" is a glob that matches nothing, so the line below revokes the key for
    // every host, web1.example included. A @revoked line must not be narrower than OpenSSH reads it.
    const known = parseKnownHosts(`@cert-authority * ${ca.pub}\n@revoked *,!${hashed('web1.example')} ${ca.pub}\n`);
    expect(verifyHostKey(known, 'web1.example', 22, cert)).toMatchObject({ status: 'revoked', authority: true });
  });
});

describe('a hashed host field is one hash, whole, as OpenSSH reads it', () => {
  it('a @cert-authority line "|1|…,*" vouches for no host (OpenSSH compares the whole field with one hash)', () => {
    const known = parseKnownHosts(`@cert-authority ${hashed('other.example')},* ${ca.pub}\n`);
    expect(verifyHostKey(known, 'web1.example', 22, cert).status).not.toBe('match');
  });
});

describe('certificate type names that are Object.prototype properties', () => {
  const blobOf = (type: string) =>
    Buffer.concat([str(type), str(Buffer.alloc(32)), str(Buffer.from([1, 0, 1])), str(Buffer.alloc(256, 0x11)), u64(1n), u32(2)]);

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])('%s is refused with a WireError, like any unknown type', (type) => {
    expect(() => parseCertificate(blobOf(type))).toThrow(WireError);
    expect(certifiedKeyOf(blobOf(type))).toEqual(blobOf(type));
  });
});
