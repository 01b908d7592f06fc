import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fingerprint, hashedName, parseKnownHosts } from '../../../src/ssh/host-keys.js';
import type { ScannedKey } from '../../../src/ssh/host-key-scan.js';
import { judgeScan } from '../../../src/ssh/scan-verdict.js';

const dir = mkdtempSync(join(tmpdir(), 'sshgate-verdict-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A real key of `type`, as ssh-keygen makes it: its known_hosts text and its blob. */
function key(name: string, type: 'ed25519' | 'ecdsa' | 'rsa'): { text: string; scanned: ScannedKey } {
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-f', join(dir, name)]);
  const [keyType, b64] = readFileSync(join(dir, `${name}.pub`), 'utf8').split(' ') as [string, string];
  return { text: `${keyType} ${b64}`, scanned: { keyType, key: Buffer.from(b64, 'base64') } };
}
const ed = key('ed', 'ed25519');
const ec = key('ec', 'ecdsa');
const otherEd = key('ed2', 'ed25519');

const judge = (file: string, scanned: ScannedKey[], port = 2222) => judgeScan(parseKnownHosts(file), '10.0.0.5', port, scanned);

describe('judging scanned keys against known_hosts', () => {
  it('calls a host with no entry new, every key new', () => {
    const v = judge(`[10.0.0.6]:2222 ${ed.text}\n`, [ed.scanned, ec.scanned]);
    expect(v.status).toBe('new');
    expect(v.keys.map((k) => k.state)).toEqual(['new', 'new']);
    expect(v.keys[0]?.fingerprint).toBe(fingerprint(ed.scanned.key));
  });

  it('looks the host up as [host]:port off port 22, as OpenSSH does', () => {
    expect(judge(`10.0.0.5 ${ed.text}\n`, [ed.scanned]).status).toBe('new');
    expect(judge(`10.0.0.5 ${ed.text}\n`, [ed.scanned], 22).status).toBe('known');
  });

  it('calls a host known when it shows the recorded key, and leaves a key of a further type unrecorded', () => {
    const v = judge(`[10.0.0.5]:2222 ${ed.text}\n`, [ed.scanned, ec.scanned]);
    expect(v.status).toBe('known');
    expect(v.keys.map((k) => k.state)).toEqual(['known', 'unrecorded']);
  });

  it('calls a key of a recorded type that differs changed, and names the recorded line', () => {
    const v = judge(`# comment\n[10.0.0.5]:2222 ${ed.text}\n`, [otherEd.scanned, ec.scanned]);
    expect(v.status).toBe('changed');
    expect(v.keys.map((k) => k.state)).toEqual(['changed', 'unrecorded']);
    expect(v.recorded).toEqual([{ line: 2, keyType: 'ssh-ed25519', fingerprint: fingerprint(ed.scanned.key) }]);
  });

  it('calls a host changed when it shows none of its recorded keys, even of another type', () => {
    // A connection would refuse it too: its key exchange finds no recorded key to match.
    const v = judge(`[10.0.0.5]:2222 ${ed.text}\n`, [ec.scanned]);
    expect(v.status).toBe('changed');
    expect(v.keys.map((k) => k.state)).toEqual(['unrecorded']);
  });

  it('calls a host changed when one key matches and another of a recorded type does not', () => {
    const v = judge(`[10.0.0.5]:2222 ${ed.text}\n[10.0.0.5]:2222 ${ec.text}\n`, [otherEd.scanned, ec.scanned]);
    expect(v.status).toBe('changed');
    expect(v.keys.map((k) => k.state)).toEqual(['changed', 'known']);
  });

  it('calls a host revoked when it shows a key marked @revoked, known or not', () => {
    const v = judge(`@revoked * ${ec.text}\n[10.0.0.5]:2222 ${ed.text}\n`, [ed.scanned, ec.scanned]);
    expect(v.status).toBe('revoked');
    expect(v.keys.map((k) => k.state)).toEqual(['known', 'revoked']);
    expect(judge(`@revoked * ${ed.text}\n`, [ed.scanned]).status).toBe('revoked');
  });

  it('reads hashed names as plain ones', () => {
    expect(judge(`${hashedName('[10.0.0.5]:2222')} ${ed.text}\n`, [ed.scanned]).status).toBe('known');
    expect(judge(`${hashedName('[10.0.0.5]:2222')} ${ed.text}\n`, [otherEd.scanned]).status).toBe('changed');
  });
});
