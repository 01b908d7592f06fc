/**
 * The host's hash command, run by the real /bin/sh against the real openssl and sha256sum, each
 * alone on a PATH of its own: the tool it names is the one that hashed, a failing openssl gives
 * way to sha256sum, neither is exit 127 (the caller's SFTP fallback), and a hostile file name is
 * one argument.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostHashCommand, parseHostHash } from '../../../src/gateway/host-hash.js';

let dir: string;
const data = 'the bytes a transfer moved\n';
const sha = createHash('sha256').update(data).digest('hex');
const which = (tool: string) => execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();

/** A directory holding only the named tools (links to the real ones, or scripts). */
function bin(name: string, tools: Record<string, string>): string {
  const d = join(dir, name);
  mkdirSync(d);
  for (const [tool, target] of Object.entries(tools)) {
    if (target.startsWith('#!')) {
      writeFileSync(join(d, tool), target);
      chmodSync(join(d, tool), 0o755);
    } else symlinkSync(target, join(d, tool));
  }
  return d;
}

function run(path: string, systemPath: string) {
  // The shell itself from a path of its own: the command's PATH holds only the tools under test.
  return spawnSync('/bin/sh', ['-c', hostHashCommand(path, systemPath)], { encoding: 'utf8' });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sshgate-host-hash-'));
  writeFileSync(join(dir, 'file'), data);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the host hash command', () => {
  it('hashes with openssl where there is one, and says so', () => {
    const r = run(join(dir, 'file'), bin('both', { openssl: which('openssl'), sha256sum: which('sha256sum') }));
    expect(r.status).toBe(0);
    expect(parseHostHash(r.stdout)).toEqual({ sha256: sha, by: 'openssl' });
  });

  it('hashes with sha256sum where there is no openssl', () => {
    const r = run(join(dir, 'file'), bin('coreutils', { sha256sum: which('sha256sum') }));
    expect(r.status).toBe(0);
    expect(parseHostHash(r.stdout)).toEqual({ sha256: sha, by: 'sha256sum' });
  });

  it('gives way to sha256sum when openssl fails, and its output does not count', () => {
    const failing = '#!/bin/sh\necho 0000000000000000000000000000000000000000000000000000000000000000 "*$4"\nexit 1\n';
    const r = run(join(dir, 'file'), bin('broken', { openssl: failing, sha256sum: which('sha256sum') }));
    expect(r.status).toBe(0);
    expect(parseHostHash(r.stdout)).toEqual({ sha256: sha, by: 'sha256sum' });
  });

  it('ends 127 with neither, for the caller to read the file back over SFTP', () => {
    const r = run(join(dir, 'file'), bin('none', {}));
    expect(r.status).toBe(127);
    expect(parseHostHash(r.stdout)).toBeUndefined();
  });

  it('takes a hostile file name as one argument, with either tool', () => {
    const name = join(dir, "it's $(touch pwned); `id` -x \\ name");
    writeFileSync(name, data);
    for (const tools of ['both', 'coreutils']) {
      const r = run(name, join(dir, tools));
      expect(parseHostHash(r.stdout)?.sha256, tools).toBe(sha);
    }
    expect(spawnSync('ls', [join(dir, 'pwned')]).status).not.toBe(0);
  });

  it('reads no digest from anything else', () => {
    expect(parseHostHash('')).toBeUndefined();
    expect(parseHostHash('sha256sum: /x: No such file or directory\n')).toBeUndefined();
    expect(parseHostHash(`SHA2-256(/x)= ${sha}\n`)).toBeUndefined();
    expect(parseHostHash(`\\${sha}  /a\\nb\n`)).toEqual({ sha256: sha, by: 'sha256sum' });
  });
});
