import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, describe, expect, it } from 'vitest';
import { SshgateError } from '../../../src/errors.js';
import { KnownHostsFile } from '../../../src/ssh/known-hosts-file.js';

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
