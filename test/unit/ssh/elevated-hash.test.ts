/**
 * Which tool the elevated file scripts hash with, run by the real /bin/sh with the real coreutils,
 * findutils, openssl and sha256sum, the hashing tools varied on a PATH of their own: openssl where
 * it gives the empty input's digest right, sha256sum otherwise; the script says which, and an
 * openssl that passes that check but then prints no digest fails the script rather than giving
 * way half-way through the stream.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { afterFrame, EXIT, parseHash, parseWrite, scriptCommand } from '../../../src/ssh/elevated-scripts.js';
import { toolDir, which } from '../../support/tool-dir.js';

const FRAME = 'sshgate-frame-0123456789abcdef';
/** What the scripts run besides the hashing tools and the shell's builtins. */
const TOOLS = ['find', 'dd', 'id', 'mktemp', 'chown', 'chmod', 'sync', 'mv', 'ln', 'rm'];
const data = 'the bytes an elevated transfer moved\n';
const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

let dir: string;

/** A directory with the scripts' tools and the named hashing tools (links to the real ones, or scripts). */
const bin = (name: string, hashers: Record<string, string>) =>
  toolDir(dir, name, { ...Object.fromEntries(TOOLS.map((t) => [t, which(t)])), ...hashers });

function run(tools: string, script: 'hash' | 'write', args: string[], stdin = '', env: Record<string, string> = {}) {
  const r = spawnSync('/bin/sh', ['-c', scriptCommand(script, FRAME, args, join(dir, tools))], {
    input: stdin,
    env: { ...process.env, ...env },
  });
  return { status: r.status, out: afterFrame(r.stdout, FRAME), stderr: r.stderr.toString() };
}

/** An openssl that fails as a FIPS build without SHA-256 would: an error, exit 1. */
const NO_SHA256 = '#!/bin/sh\necho "dgst: Unknown digest sha256" >&2\nexit 1\n';
/** One that hashes the empty input right and then answers no digest for anything else. */
const EMPTY_ONLY = `#!/bin/sh
input=$(/bin/cat)
if [ -z "$input" ]; then echo "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 *stdin"; else echo "error"; fi
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sshgate-elevated-hash-'));
  writeFileSync(join(dir, 'file'), data);
  bin('both', { openssl: which('openssl'), sha256sum: which('sha256sum') });
  bin('coreutils', { sha256sum: which('sha256sum') });
  bin('broken', { openssl: NO_SHA256, sha256sum: which('sha256sum') });
  bin('wrong', { openssl: `#!/bin/sh\n/bin/cat >/dev/null\necho "${'0'.repeat(64)} *stdin"\n`, sha256sum: which('sha256sum') });
  bin('emptyonly', { openssl: EMPTY_ONLY, sha256sum: which('sha256sum') });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the elevated scripts hash', () => {
  it.each([
    ['with openssl where it works, and say so', 'both', 'openssl'],
    ['with sha256sum where there is no openssl', 'coreutils', 'sha256sum'],
    ['with sha256sum where openssl fails', 'broken', 'sha256sum'],
    ['with sha256sum where openssl gets the empty input wrong', 'wrong', 'sha256sum'],
  ] as const)('%s', (_title, tools, by) => {
    const hashed = run(tools, 'hash', [join(dir, 'file')]);
    expect(hashed.status, hashed.stderr).toBe(0);
    expect(parseHash(hashed.out.toString('latin1').trim())).toEqual({ sha256: sha(data), by });

    // A write hashes its temp file (and the file it replaces) with the same tool, and says so.
    const target = join(dir, `written-by-${tools}`);
    writeFileSync(target, 'old');
    const wrote = run(tools, 'write', [target, '', '0', '644', String(data.length), sha(data), 'tmp'], data);
    expect(wrote.status, wrote.stderr).toBe(0);
    const outcome = parseWrite(wrote.out);
    expect(outcome.hashedBy).toBe(by);
    expect(outcome.before?.sha256).toBe(sha('old'));
    expect(readFileSync(target, 'utf8')).toBe(data);
  });

  it('runs openssl without the configuration or modules its environment names', () => {
    // A configuration under which openssl has no SHA-256 at all: the script must not read it.
    const conf = join(dir, 'hostile.cnf');
    writeFileSync(conf, 'openssl_conf = init\n[init]\nalg_section = evp\n[evp]\ndefault_properties = fips=yes\n');
    const hostile = { OPENSSL_CONF: conf, OPENSSL_MODULES: join(dir, 'none'), OPENSSL_ENGINES: join(dir, 'none') };
    expect(spawnSync('openssl', ['dgst', '-sha256', '-r'], { input: '', env: { ...process.env, ...hostile } }).status).not.toBe(0);
    const hashed = run('both', 'hash', [join(dir, 'file')], '', hostile);
    expect(hashed.status, hashed.stderr).toBe(0);
    expect(parseHash(hashed.out.toString('latin1').trim())).toEqual({ sha256: sha(data), by: 'openssl' });
  });

  it('fails, never gives way half-way, when openssl passed its check and then hashes nothing', () => {
    const hashed = run('emptyonly', 'hash', [join(dir, 'file')]);
    expect(hashed.status).toBe(EXIT.failed);
    const target = join(dir, 'never-written');
    const wrote = run('emptyonly', 'write', [target, '', '0', '644', String(data.length), sha(data), 'tmp'], data);
    expect(wrote.status).toBe(EXIT.failed);
    expect(() => readFileSync(target)).toThrow();
  });
});
