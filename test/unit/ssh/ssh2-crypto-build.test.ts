/**
 * scripts/ssh2-crypto.mjs, which the Docker image's build runs with --required: it builds ssh2's
 * native crypto so that ssh2 loads it, and a build that fails fails the image's build (with
 * --required) or leaves ssh2 on its JavaScript crypto (without). Run on a copy of ssh2, so the
 * suite's own ssh2 is never rebuilt under the tests using it.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const script = resolve('scripts/ssh2-crypto.mjs');
const require = createRequire(import.meta.url);
/** npm's node-gyp, which `npm run` hands the script; found beside npm when the suite is not run by npm. */
const nodeGyp =
  process.env.npm_config_node_gyp ?? spawnSync('npm', ['exec', '-c', 'echo $npm_config_node_gyp'], { encoding: 'utf8' }).stdout.trim();
const dirs: string[] = [];

/** A project dir with a copy of ssh2, the packages it loads, and nan (its optional dependency the binding compiles with). */
function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sshgate-ssh2-crypto-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'package.json'), '{"name":"x","private":true}\n');
  for (const pkg of ['ssh2', 'asn1', 'bcrypt-pbkdf', 'safer-buffer', 'tweetnacl', 'nan'])
    cpSync(dirname(require.resolve(`${pkg}/package.json`)), join(dir, 'node_modules', pkg), {
      recursive: true,
      filter: (src) => !src.includes(`${join('crypto', 'build')}`),
    });
  return dir;
}

function run(dir: string, args: string[] = [], env: Record<string, string | undefined> = { npm_config_node_gyp: nodeGyp }) {
  const r = spawnSync(process.execPath, [script, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
  return { status: r.status, stderr: r.stderr, native: nativeIn(dir) };
}

/** Whether the ssh2 of `dir` loads its binding: 'true' or 'false'. */
function nativeIn(dir: string): string {
  return spawnSync(process.execPath, ['-p', "require('ssh2/lib/protocol/crypto.js').bindingAvailable"], {
    cwd: dir,
    encoding: 'utf8',
  }).stdout.trim();
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('build:ssh2-crypto', () => {
  it('builds the binding that ssh2 then loads', () => {
    const dir = project();
    expect(nativeIn(dir)).toBe('false');
    const r = run(dir, ['--required']);
    expect(r.stderr).toContain('ssh2 uses its native crypto binding');
    expect([r.status, r.native]).toEqual([0, 'true']);
  }, 120_000);

  it('fails with --required when it cannot build, and otherwise leaves ssh2 on its JavaScript crypto', () => {
    const dir = project();
    // A source that does not compile: what a missing compiler or missing headers come to.
    writeFileSync(join(dir, 'node_modules/ssh2/lib/protocol/crypto/src/binding.cc'), 'this is not C++;\n');
    const required = run(dir, ['--required']);
    expect([required.status, required.native]).toEqual([1, 'false']);
    expect(required.stderr).toContain('ssh2 keeps its JavaScript crypto');
    const optional = run(dir);
    expect([optional.status, optional.native]).toEqual([0, 'false']);
  }, 120_000);

  it('says how to run it when npm did not start it', () => {
    const r = run(project(), [], {});
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('npm run build:ssh2-crypto');
  });
});
