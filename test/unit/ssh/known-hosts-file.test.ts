import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, describe, expect, it } from 'vitest';
import { SshgateError } from '../../../src/errors.js';
import { KnownHostsFile, recordHostKeys } from '../../../src/ssh/known-hosts-file.js';
import { hashedName, parseKnownHosts, usesHashedNames, verifyHostKey } from '../../../src/ssh/host-keys.js';

const dir = mkdtempSync(join(tmpdir(), 'sshgate-kh-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function publicBlob(name: string): Buffer {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, name)]);
  const parsed = ssh2.utils.parseKey(readFileSync(join(dir, `${name}.pub`)));
  if (parsed instanceof Error) throw parsed;
  return parsed.getPublicSSH();
}
const keyA = publicBlob('a');
const keyB = publicBlob('b');
let n = 0;
const fresh = () => join(dir, `known_hosts.${++n}`);

describe('the known_hosts file', () => {
  it('under strict, leaves an unknown host unknown and the file untouched', () => {
    const path = fresh();
    const kh = new KnownHostsFile(path, 'strict');
    expect(kh.verify('10.0.0.1', 22, keyA).status).toBe('unknown');
    expect(existsSync(path)).toBe(false);
  });

  it('under accept-new, records a new host once (mode 0600) and refuses a different key after', () => {
    const path = fresh();
    const accepted: string[] = [];
    const kh = new KnownHostsFile(path, 'accept-new', (k) => accepted.push(`${k.host}:${k.port} ${k.keyType}`));
    expect(kh.verify('10.0.0.1', 2222, keyA).status).toBe('match');
    expect(kh.verify('10.0.0.1', 2222, keyA).status).toBe('match');
    expect(accepted).toEqual(['10.0.0.1:2222 ssh-ed25519']);
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(1);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(kh.verify('10.0.0.1', 2222, keyB).status).toBe('mismatch');
  });

  it('under accept-new, writes a new host as keyscan does: hashed in a hashed file, after a last line without its newline', () => {
    const path = fresh();
    const hidden = `${hashedName('10.0.0.9')} ssh-ed25519 ${keyB.toString('base64')}`;
    writeFileSync(path, hidden); // no trailing newline
    const kh = new KnownHostsFile(path, 'accept-new');
    expect(kh.verify('10.0.0.8', 22, keyA).status).toBe('match');
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines[0]).toBe(hidden);
    expect(lines[1]).toMatch(/^\|1\|/);
    expect(lines[1]).not.toContain('10.0.0.8');
    expect(lines[2]).toBe('');
    const known = parseKnownHosts(readFileSync(path, 'utf8'));
    expect(usesHashedNames(known)).toBe(true);
    expect(verifyHostKey(known, '10.0.0.8', 22, keyA).status).toBe('match');
    expect(verifyHostKey(known, '10.0.0.9', 22, keyB).status).toBe('match');
    // A file with plain names gets a plain line, as OpenSSH's default writes.
    const plain = fresh();
    writeFileSync(plain, `10.0.0.9 ssh-ed25519 ${keyB.toString('base64')}`);
    expect(new KnownHostsFile(plain, 'accept-new').verify('10.0.0.8', 22, keyA).status).toBe('match');
    expect(readFileSync(plain, 'utf8').split('\n')[1]).toMatch(/^10\.0\.0\.8 ssh-ed25519 /);
  });

  it('never lets two processes sharing the file record two keys for one host', () => {
    const path = fresh();
    const first = new KnownHostsFile(path, 'accept-new');
    const second = new KnownHostsFile(path, 'accept-new'); // read before the first records anything
    expect(first.verify('10.0.0.2', 22, keyA).status).toBe('match');
    expect(second.verify('10.0.0.2', 22, keyB).status).toBe('mismatch');
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('refuses a new host it cannot record, instead of accepting it unrecorded', () => {
    const ro = join(dir, 'ro');
    mkdirSync(ro, { mode: 0o500 });
    const kh = new KnownHostsFile(join(ro, 'known_hosts'), 'accept-new');
    // root ignores directory permissions: make the file path itself impossible instead.
    const impossible = new KnownHostsFile(join(dir, 'no-such-dir', 'known_hosts'), 'accept-new');
    expect(impossible.verify('10.0.0.3', 22, keyA).status).toBe('unknown');
    if (process.getuid?.() !== 0) expect(kh.verify('10.0.0.3', 22, keyA).status).toBe('unknown');
    chmodSync(ro, 0o700);
  });

  it('reads a missing file as empty, and an unreadable one as a configuration error', () => {
    expect(new KnownHostsFile(fresh(), 'strict').verify('h', 22, keyA).status).toBe('unknown');
    expect(() => new KnownHostsFile(dir, 'strict')).toThrow(SshgateError);
  });
});

describe('recording scanned keys', () => {
  const scanned = (...keys: Buffer[]) => keys.map((key) => ({ keyType: 'ssh-ed25519', key }));

  it('creates the file with mode 0600, one plain line per key, and the host is then verified by it', () => {
    const path = fresh();
    const r = recordHostKeys(path, '10.0.0.1', 2222, scanned(keyA));
    expect(r.written).toHaveLength(1);
    expect(r.hashed).toBe(false);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toBe(`[10.0.0.1]:2222 ssh-ed25519 ${keyA.toString('base64')}\n`);
    expect(new KnownHostsFile(path, 'strict').verify('10.0.0.1', 2222, keyA).status).toBe('match');
  });

  it('never writes a host twice, and never writes a key that differs from a recorded one', () => {
    const path = fresh();
    recordHostKeys(path, '10.0.0.1', 22, scanned(keyA));
    const before = readFileSync(path, 'utf8');
    const again = recordHostKeys(path, '10.0.0.1', 22, scanned(keyA));
    expect(again.verdict.status).toBe('known');
    expect(again.written).toEqual([]);
    const changed = recordHostKeys(path, '10.0.0.1', 22, scanned(keyB));
    expect(changed.verdict.status).toBe('changed');
    expect(changed.written).toEqual([]);
    expect(readFileSync(path, 'utf8')).toBe(before);
  });

  it('starts a line of its own after a last line without its newline', () => {
    const path = fresh();
    writeFileSync(path, `10.9.9.9 ssh-ed25519 ${keyB.toString('base64')}`);
    recordHostKeys(path, '10.0.0.1', 22, scanned(keyA));
    const kh = new KnownHostsFile(path, 'strict');
    expect(kh.skipped).toEqual([]);
    expect(kh.verify('10.9.9.9', 22, keyB).status).toBe('match');
    expect(kh.verify('10.0.0.1', 22, keyA).status).toBe('match');
  });

  it('hashes the names it writes when the file hashes all of its names, with a fresh salt per line', () => {
    const path = fresh();
    writeFileSync(path, `${hashedName('10.9.9.9')} ssh-ed25519 ${keyB.toString('base64')}\n`);
    const r = recordHostKeys(path, '10.0.0.1', 2222, scanned(keyA, keyB));
    expect(r.hashed).toBe(true);
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.every((l) => l.startsWith('|1|'))).toBe(true);
    expect(new Set(lines.map((l) => l.split(' ')[0])).size).toBe(3);
    expect(readFileSync(path, 'utf8')).not.toContain('10.0.0.1');
    const known = parseKnownHosts(readFileSync(path, 'utf8'));
    expect(verifyHostKey(known, '10.0.0.1', 2222, keyA).status).toBe('match');
    // ssh-keygen finds the hashed host too: the format is OpenSSH's.
    expect(execFileSync('ssh-keygen', ['-F', '[10.0.0.1]:2222', '-f', path], { encoding: 'utf8' })).toContain('found: line 2');
  });

  it('writes plain names to a file that names any host plainly', () => {
    const mixed = parseKnownHosts(`${hashedName('a')} ssh-ed25519 ${keyA.toString('base64')}\nb ssh-ed25519 ${keyA.toString('base64')}\n`);
    expect(usesHashedNames(mixed)).toBe(false);
    expect(usesHashedNames(parseKnownHosts(''))).toBe(false);
  });

  it('refuses to write while another process holds the lock, and names the lock file', () => {
    const path = fresh();
    writeFileSync(`${path}.lock`, '');
    expect(() => recordHostKeys(path, '10.0.0.1', 22, scanned(keyA))).toThrow(/locked.*\.lock/);
    expect(existsSync(path)).toBe(false);
    rmSync(`${path}.lock`);
  });
});
