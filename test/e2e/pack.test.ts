import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const STEPS = [
  '1. ssh_list_hosts',
  '2. ssh_plan',
  'DENIED',
  '3. ssh_run demo "uname -a"',
  'succeeded, exit 0',
  'tick 5',
  '→ done: succeeded',
  'ssh_cancel → cancelled',
  '→ cancelled',
  'done: every step worked',
];
/** Not packed, and dist/ must come from prepack rather than from a test run's build. */
const NOT_COPIED = new Set(['node_modules', 'dist', 'dist-bench', 'dist-fuzz', '.git', '.cache', '.venv-interop', 'coverage']);

// A user's environment: none of the npm_* settings an `npm test` passes down to its children.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));

function npm(args: string[], cwd: string) {
  const r = spawnSync('npm', args, { cwd, env, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} (in ${cwd}): exit ${String(r.status)}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

let tmp: string;
let packed: string[];
let sshgate: string;

// The tarball a release would publish, installed into an empty project: what a user gets.
beforeAll(() => {
  tmp = realpathSync(mkdtempSync(join(tmpdir(), 'sshgate-pack-')));
  // A copy of the repository without dist/, so that the tarball's dist/ is prepack's build.
  const copy = join(tmp, 'repo');
  cpSync(root, copy, {
    recursive: true,
    filter: (src) => src === root || !NOT_COPIED.has(src.slice(root.length + 1).split('/')[0] as string),
  });
  symlinkSync(realpathSync(join(root, 'node_modules')), join(copy, 'node_modules'));
  // What an operator's checkout holds besides the sources (docs/operations.md has them put it
  // there, git ignores it): none of it may ship.
  mkdirSync(join(copy, 'config', 'keys', 'deploy'), { recursive: true });
  writeFileSync(join(copy, 'config', 'keys', 'deploy', 'id_ed25519'), 'a private key\n');
  writeFileSync(join(copy, 'config', 'known_hosts'), 'a known host\n');
  mkdirSync(join(copy, 'secrets'), { recursive: true });
  writeFileSync(join(copy, 'secrets', 'deploy_pass'), 'a passphrase\n');
  // `npm run package`: this repository's .npmrc turns lifecycle scripts off (for installs), so
  // the script packs with them on, and prepack builds dist/.
  const [pack] = JSON.parse(npm(['run', '--silent', 'package', '--', '--json', '--pack-destination', tmp], copy)) as {
    filename: string;
    files: { path: string }[];
  }[];
  packed = pack?.files.map((f) => f.path) ?? [];
  const app = join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'sshgate-pack-check', private: true }));
  npm(['install', '--no-audit', '--no-fund', join(tmp, pack?.filename as string)], app);
  sshgate = join(app, 'node_modules/.bin/sshgate');
}, 600_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the npm package', { timeout: 120_000 }, () => {
  it('ships the build, the licence and the example files, and no sources or tests', () => {
    expect(packed).toEqual(
      expect.arrayContaining(['dist/cli.js', 'LICENSE', 'README.md', 'package.json', 'policies/default.yml', 'config/servers.yml']),
    );
    // The bundle: the entry and the chunks it loads (rolldown.config.mjs), not tsc's modules (build/).
    expect(packed.some((p) => /^dist\/demo-[\w-]+\.js$/.test(p))).toBe(true);
    expect(packed.filter((p) => /^(src|test|bench|build)\//.test(p))).toEqual([]);
  });

  it("ships none of an operator's keys, known_hosts or secrets from the checkout it is packed in", () => {
    expect(packed.filter((p) => /^config\/keys\/|known_hosts|^secrets\//.test(p))).toEqual([]);
    expect(packed.filter((p) => p.startsWith('config/')).sort()).toEqual(['config/credentials.yml', 'config/servers.yml']);
  });

  it('ships every file the README links to, so its links work in node_modules too', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    // The benchmark results and the contributors' guide are about the repository, not the package.
    const linked = [...readme.matchAll(/\]\(([^)#:\s]+)(?:#[^)]*)?\)/g)]
      .map((m) => m[1] as string)
      .filter((l) => !l.startsWith('bench/') && !l.includes('CONTRIBUTING'));
    expect(linked.length).toBeGreaterThan(5);
    expect(linked.filter((l) => !packed.includes(l))).toEqual([]);
  });

  it('installs an sshgate command that prints its help and version', () => {
    const help = spawnSync(sshgate, ['--help'], { cwd: tmp, env, encoding: 'utf8', timeout: 60_000 });
    expect(help.stderr).toBe('');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: sshgate <command> \[options\]/);
    expect(help.stdout).toContain('demo ');
    const v = spawnSync(sshgate, ['--version'], { cwd: tmp, env, encoding: 'utf8', timeout: 60_000 });
    expect(v.stdout.trim()).toBe(version);
  });

  it('runs the demo from the installed package', () => {
    // The embedded demo host: no sshd, and any user.
    const r = spawnSync(sshgate, ['demo'], { cwd: tmp, env: { ...env, SSHGATE_DEMO_HOST: 'embedded' }, encoding: 'utf8', timeout: 90_000 });
    expect(r.stderr).not.toMatch(/sshgate demo:/);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`[serve]  node ${join(tmp, 'app/node_modules/sshgate/dist/cli.js')} serve`);
    expect(r.stdout).toContain('embedded ssh2 server');
    for (const step of STEPS) expect(r.stdout).toContain(step);
  });
});
