import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { entriesFor, fingerprint, knownHostsLine, parseKnownHosts, verifyHostKey } from '../../../src/ssh/host-keys.js';
import { globMatch } from '../../../src/glob.js';
import { tempDir } from '../../support/policy.js';

let dir: string;
const keys: Record<string, { type: string; blob: Buffer; line: string }> = {};

function newKey(name: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, name)]);
  const [type, b64] = readFileSync(join(dir, `${name}.pub`), 'utf8').split(' ') as [string, string];
  keys[name] = { type, blob: Buffer.from(b64, 'base64'), line: `${type} ${b64}` };
}

beforeAll(() => {
  dir = tempDir();
  for (const k of ['a', 'b', 'c']) newKey(k);
});

describe('known_hosts', () => {
  it('matches plain names, [host]:port and wildcards, and refuses another key as a mismatch naming both fingerprints', () => {
    const known = parseKnownHosts(`web1.example ${keys.a?.line}\n[10.0.0.5]:2222 ${keys.b?.line}\n*.lab,!bad.lab ${keys.c?.line}\n`);
    expect(verifyHostKey(known, 'web1.example', 22, keys.a!.blob)).toEqual({ status: 'match' });
    expect(verifyHostKey(known, '10.0.0.5', 2222, keys.b!.blob)).toEqual({ status: 'match' });
    expect(verifyHostKey(known, '10.0.0.5', 22, keys.b!.blob)).toEqual({ status: 'unknown' });
    expect(verifyHostKey(known, 'x.lab', 22, keys.c!.blob)).toEqual({ status: 'match' });
    expect(verifyHostKey(known, 'bad.lab', 22, keys.c!.blob)).toEqual({ status: 'unknown' });
    expect(verifyHostKey(known, 'web1.example', 22, keys.b!.blob)).toEqual({
      status: 'mismatch',
      offered: fingerprint(keys.b!.blob),
      expected: [fingerprint(keys.a!.blob)],
    });
  });

  it('says which line records a host on port 22 when it is looked up on another port, hashed or not', () => {
    const known = parseKnownHosts(`# keys\n10.0.0.21 ${keys.a?.line}\n`);
    expect(verifyHostKey(known, '10.0.0.21', 2222, keys.a!.blob)).toEqual({ status: 'unknown', port22Line: 2 });
    expect(verifyHostKey(known, '10.0.0.22', 2222, keys.a!.blob)).toEqual({ status: 'unknown' });
    const file = join(dir, 'known_hosts_22');
    writeFileSync(file, `10.0.0.21 ${keys.a?.line}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file]);
    expect(verifyHostKey(parseKnownHosts(readFileSync(file, 'utf8')), '10.0.0.21', 2222, keys.a!.blob)).toEqual({
      status: 'unknown',
      port22Line: 1,
    });
  });

  it('reads entries hashed by ssh-keygen -H', () => {
    const file = join(dir, 'known_hosts');
    writeFileSync(file, `web1.example ${keys.a?.line}\n[10.0.0.5]:2222 ${keys.b?.line}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file]);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('web1.example');
    const known = parseKnownHosts(text);
    expect(verifyHostKey(known, 'web1.example', 22, keys.a!.blob)).toEqual({ status: 'match' });
    expect(verifyHostKey(known, '10.0.0.5', 2222, keys.b!.blob)).toEqual({ status: 'match' });
    expect(verifyHostKey(known, '10.0.0.5', 2222, keys.a!.blob).status).toBe('mismatch');
  });

  it('refuses a revoked key even when it is also listed as known', () => {
    const known = parseKnownHosts(`@revoked * ${keys.a?.line}\nweb1 ${keys.a?.line}\n`);
    expect(verifyHostKey(known, 'web1', 22, keys.a!.blob)).toEqual({ status: 'revoked', offered: fingerprint(keys.a!.blob) });
  });

  it('skips lines it cannot read and says why, and writes lines it can read back', () => {
    const known = parseKnownHosts(
      `# comment\n\ngarbage\n@weird host ${keys.a?.line}\nh ssh-ed25519 !!!notbase64\n@cert-authority *.lab ${keys.b?.line}\n`,
    );
    expect(known.entries.map((e) => [e.line, e.marker])).toEqual([[6, 'cert-authority']]);
    expect(known.skipped.map((s) => s.line)).toEqual([3, 4, 5]);
    // A CA's key is never taken for the host's own.
    expect(verifyHostKey(known, 'x.lab', 22, keys.b!.blob)).toEqual({ status: 'unknown', authorityLine: 6 });
    const line = knownHostsLine('10.1.1.1', 2200, keys.c!.type, keys.c!.blob);
    expect(verifyHostKey(parseKnownHosts(line), '10.1.1.1', 2200, keys.c!.blob)).toEqual({ status: 'match' });
  });

  it('finds the same lines for a host, in file order, whether its names are plain, wildcards, negated or hashed', () => {
    const plain = join(dir, 'known_hosts_mixed_plain');
    writeFileSync(plain, `10.9.0.1 ${keys.c?.line}\n[10.9.0.2]:2222 ${keys.c?.line}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', plain]);
    const hashed = readFileSync(plain, 'utf8');
    const text = [
      `Web1.Example,web2.example ${keys.a?.line}`,
      `*.lab,!bad.lab ${keys.b?.line}`,
      `web1.example ${keys.b?.line}`,
      hashed.trim(),
      `@revoked web2.example ${keys.c?.line}`,
      `[10.9.0.2]:2222 ${keys.a?.line}`,
      `10.9.0.? ${keys.b?.line}`,
      `WEB1.EXAMPLE,web1.example ${keys.c?.line}`,
      `good.lab ${keys.c?.line}`,
    ].join('\n');
    const known = parseKnownHosts(text);
    // OpenSSH's rule, stated plainly: a line applies when a name matches (case aside; a hashed
    // name by its HMAC) and no negated name does.
    const applies = (patterns: string[], token: string) => {
      const one = (p: string) => {
        if (!p.startsWith('|1|')) return globMatch(p.toLowerCase(), token.toLowerCase());
        const [, , salt, hash] = p.split('|');
        return (
          createHmac('sha1', Buffer.from(salt ?? '', 'base64'))
            .update(token)
            .digest('base64') === hash
        );
      };
      return !patterns.some((p) => p.startsWith('!') && one(p.slice(1))) && patterns.some((p) => !p.startsWith('!') && one(p));
    };
    const hosts: [string, number][] = [
      ['web1.example', 22],
      ['WEB2.example', 22],
      ['x.lab', 22],
      ['bad.lab', 22],
      ['good.lab', 22],
      ['10.9.0.1', 22],
      ['10.9.0.2', 2222],
      ['10.9.0.3', 22],
      ['nowhere', 22],
    ];
    for (const [host, port] of hosts) {
      const token = port === 22 ? host : `[${host}]:${port}`;
      const expected = known.entries.filter((e) => applies(e.patterns, token)).map((e) => e.line);
      // Twice: the second answer comes from what the first one kept.
      expect(entriesFor(known, host, port).map((e) => e.line)).toEqual(expected);
      expect(entriesFor(known, host, port).map((e) => e.line)).toEqual(expected);
    }
    expect(entriesFor(known, 'web1.example', 22).map((e) => e.line)).toEqual([1, 3, 9]);
    expect(entriesFor(known, '10.9.0.2', 2222).map((e) => e.line)).toEqual([5, 7]);
    expect(verifyHostKey(known, 'bad.lab', 22, keys.b!.blob)).toEqual({ status: 'unknown' });
    expect(verifyHostKey(known, 'web2.example', 22, keys.c!.blob).status).toBe('revoked');
  });

  it('prints fingerprints as ssh-keygen -l does', () => {
    const out = execFileSync('ssh-keygen', ['-l', '-f', join(dir, 'a.pub')], { encoding: 'utf8' });
    expect(out).toContain(fingerprint(keys.a!.blob));
  });
});
