/**
 * The host's hash command, run by the real /bin/sh against the real openssl and sha256sum, each
 * alone on a PATH of its own: the tool it names is the one that hashed, a failing openssl gives
 * way to sha256sum, and so does one that answers no digest, neither is exit 127 (the caller's
 * SFTP fallback), and a hostile file name is one argument.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostHashCommand, parseHostHash } from '../../../src/gateway/host-hash.js';
import { toolDir, which } from '../../support/tool-dir.js';

let dir: string;
const data = 'the bytes a transfer moved\n';
const sha = createHash('sha256').update(data).digest('hex');

/** A directory holding only the named tools (links to the real ones, or scripts). */
const bin = (name: string, tools: Record<string, string>) => toolDir(dir, name, tools);

function run(path: string, systemPath: string) {
  // The shell itself from a path of its own: the command's PATH holds only the tools under test.
  return spawnSync('/bin/sh', ['-c', hostHashCommand(path, systemPath)], { encoding: 'utf8' });
}

/** What a failing openssl prints before it exits 1, and what one that exits 0 prints instead of a digest. */
const FAILING = '#!/bin/sh\necho 0000000000000000000000000000000000000000000000000000000000000000 "*$4"\nexit 1\n';
const NO_DIGEST = '#!/bin/sh\necho "Error: this build has no SHA-256 (FIPS)"\nexit 0\n';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sshgate-host-hash-'));
  writeFileSync(join(dir, 'file'), data);
  bin('both', { openssl: which('openssl'), sha256sum: which('sha256sum') });
  bin('coreutils', { sha256sum: which('sha256sum') });
  bin('broken', { openssl: FAILING, sha256sum: which('sha256sum') });
  bin('nodigest', { openssl: NO_DIGEST, sha256sum: which('sha256sum') });
  bin('none', {});
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the host hash command', () => {
  it.each([
    ['hashes with openssl where there is one, and says so', 'both', 'openssl'],
    ['hashes with sha256sum where there is no openssl', 'coreutils', 'sha256sum'],
    ['gives way to sha256sum when openssl fails, and its output does not count', 'broken', 'sha256sum'],
    ['gives way to sha256sum when openssl exits 0 without a digest', 'nodigest', 'sha256sum'],
  ] as const)('%s', (_title, tools, by) => {
    const r = run(join(dir, 'file'), join(dir, tools));
    expect(r.status).toBe(0);
    expect(parseHostHash(r.stdout)).toEqual({ sha256: sha, by });
  });

  it('ends 127 with neither, for the caller to read the file back over SFTP', () => {
    const r = run(join(dir, 'file'), join(dir, 'none'));
    expect(r.status).toBe(127);
    expect(parseHostHash(r.stdout)).toBeUndefined();
  });

  it('takes a hostile file name as one argument, with either tool, a newline and a backslash too', () => {
    const names = [join(dir, "it's $(touch pwned); `id` -x \\ name"), join(dir, 'two\nlines\\ and -r')];
    for (const name of names) {
      writeFileSync(name, data);
      for (const [tools, by] of [
        ['both', 'openssl'],
        ['coreutils', 'sha256sum'],
      ] as const) {
        const r = run(name, join(dir, tools));
        expect(parseHostHash(r.stdout), `${tools}: ${JSON.stringify(name)}`).toEqual({ sha256: sha, by });
      }
    }
    expect(existsSync(join(dir, 'pwned'))).toBe(false);
  });

  it('reads no digest from anything else', () => {
    expect(parseHostHash('')).toBeUndefined();
    expect(parseHostHash('sha256sum: /x: No such file or directory\n')).toBeUndefined();
    expect(parseHostHash(`SHA2-256(/x)= ${sha}\n`)).toBeUndefined();
    expect(parseHostHash(`\\${sha}  /a\\nb\n`)).toEqual({ sha256: sha, by: 'sha256sum' });
  });
});
