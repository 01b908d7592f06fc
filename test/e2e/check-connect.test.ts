/**
 * `sshgate check --connect` against real sshd hosts: a good host (sudo for its become rule, SFTP
 * for its file rule), one behind it, one whose key changed, one whose pinned bash is missing (a
 * chroot with only /bin/sh, as on a busybox host) and the same host pinned to sh, one whose sudoers
 * lacks the user a rule becomes, and one that is down; and a host whose sshd offers no SFTP.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostCheck } from '../../src/gateway/host-check.js';
import { removeConfig, writeConfig } from '../support/mcp.js';
import { closedPort, ensureUser, startFleet, TEST_USER, type Fleet } from '../support/sshd.js';
import { installSudoers, type Sudoers } from '../support/sudoers.js';

const LOGIN = `${TEST_USER}-check`;
/** The chroot's user: /bin/sh is its login shell, and the chroot has nothing else. */
const SH_LOGIN = `${TEST_USER}-chksh`;
/** Every component root's and not writable by others, as ChrootDirectory requires: not under /tmp. */
const CHROOT = `/var/lib/sshgate-test-chroot-${process.pid}`;
const SUBNET = 153;
/** The fleet without the SFTP subsystem. */
const NO_SFTP_SUBNET = 177;
const CHROOT_HOST = `127.${SUBNET}.0.23`;

const POLICY = `
rules:
  - { name: "anything", action: allow, commands: ["*"] }
  - { name: "restarts as root", action: allow, aliases: [good, behind], become: root, commands: ["systemctl restart *"] }
  - { name: "as daemon", action: allow, aliases: [nosudo], become: daemon, commands: ["id"] }
files:
  - { name: "configs", action: allow, aliases: [good], read: ["/etc/*"] }
`;

let fleet: Fleet;
let dir: string;
let sudoers: Sudoers | undefined;

/** A root with /bin/sh (dash) and the libraries it links, nothing more: no bash. */
function buildChroot(): void {
  mkdirSync(join(CHROOT, 'bin'), { recursive: true, mode: 0o755 });
  copyFileSync('/bin/dash', join(CHROOT, 'bin', 'sh'));
  execFileSync('chmod', ['755', join(CHROOT, 'bin', 'sh')]);
  const libs = execFileSync('ldd', ['/bin/dash'], { encoding: 'utf8' }).match(/\/\S+/g) ?? [];
  for (const lib of libs) {
    mkdirSync(join(CHROOT, dirname(lib)), { recursive: true, mode: 0o755 });
    copyFileSync(lib, join(CHROOT, lib));
  }
  mkdirSync(join(CHROOT, 'home', SH_LOGIN), { recursive: true, mode: 0o755 });
}

beforeAll(async () => {
  ensureUser(LOGIN);
  ensureUser(SH_LOGIN, '/bin/sh');
  sudoers = installSudoers('check', [`Defaults:${LOGIN} !lecture`, `${LOGIN} ALL=(root) NOPASSWD: /bin/bash`]);
  buildChroot();
  fleet = await startFleet(5, { subnet: SUBNET, sshdConfig: [`Match LocalAddress ${CHROOT_HOST}`, `  ChrootDirectory ${CHROOT}`] });
  const [h1, h2, h3, h4, h5] = fleet.hosts as [
    Fleet['hosts'][0],
    Fleet['hosts'][0],
    Fleet['hosts'][0],
    Fleet['hosts'][0],
    Fleet['hosts'][0],
  ];
  expect(h4.host).toBe(CHROOT_HOST);
  const other = execFileSync('sh', ['-c', `d=$(mktemp -d); ssh-keygen -q -t ed25519 -N '' -f $d/k; cut -d' ' -f1,2 $d/k.pub; rm -r $d`], {
    encoding: 'utf8',
  }).trim();
  const known = readFileSync(fleet.knownHostsPath, 'utf8').replace(
    `[${h3.host}]:${h3.port} ${fleet.hostPublicKey}`,
    `[${h3.host}]:${h3.port} ${other}`,
  );
  dir = writeConfig(fleet, {
    hosts: [
      { ...h1, alias: 'good', user: LOGIN, tags: ['ok'] },
      { ...h2, alias: 'behind', jump: 'good', user: LOGIN, tags: ['ok'] },
      { ...h3, alias: 'rekeyed', user: LOGIN },
      { ...h4, alias: 'nobash', user: SH_LOGIN },
      { ...h4, alias: 'shonly', user: SH_LOGIN, shell: 'sh', tags: ['ok'] },
      { ...h5, alias: 'nosudo', user: LOGIN },
      { alias: 'down', host: '127.0.0.1', port: await closedPort(), user: LOGIN },
    ],
    knownHosts: known,
    policy: POLICY,
  });
});
afterAll(async () => {
  await fleet?.stop();
  sudoers?.remove();
  rmSync(CHROOT, { recursive: true, force: true });
  if (dir) removeConfig(dir);
});

const check = (...rest: string[]) =>
  spawnSync(
    process.execPath,
    [resolve('dist/cli.js'), 'check', '--config', join(dir, 'config'), '--policy', join(dir, 'policies'), ...rest],
    {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '' },
      timeout: 120_000,
    },
  );

/** The processes a user has on this machine (each host's login user is this test's own), once none are left or after 3 s. */
async function processesOf(user: string): Promise<string> {
  let left = '';
  for (let i = 0; i < 30; i++) {
    left = spawnSync('pgrep', ['-u', user], { encoding: 'utf8' }).stdout.trim();
    if (left === '') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return left;
}

describe('sshgate check --connect', () => {
  it('reports each host step by step as JSON, fails when any host fails, and leaves nothing running', async () => {
    const r = check('--connect', '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    const { ok, hosts } = JSON.parse(r.stdout) as { ok: boolean; hosts: HostCheck[] };
    expect(ok).toBe(false);
    const by = Object.fromEntries(hosts.map((h) => [h.alias, h]));
    // A step that passed carries no error; one that did not says why.
    for (const h of hosts) {
      for (const step of [h.reachable, h.host_key, h.login, h.login_shell, h.interpreter, ...h.sudo, h.sftp]) {
        if (step.status === 'ok') expect(step.error, `${h.alias}: ${JSON.stringify(step)}`).toBeUndefined();
        else expect(step.error?.message, `${h.alias}: ${JSON.stringify(step)}`).toBeTruthy();
      }
    }
    expect(hosts.map((h) => h.alias)).toEqual(['good', 'behind', 'rekeyed', 'nobash', 'shonly', 'nosudo', 'down']);
    const fp = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(fleet.dir, 'host_ed25519.pub')], { encoding: 'utf8' }).split(
      ' ',
    )[1] as string;

    expect(by.good).toMatchObject({
      ok: true,
      reachable: { status: 'ok', handshake_ms: expect.any(Number) },
      host_key: { status: 'ok', key_type: 'ssh-ed25519', fingerprint: fp },
      login: { status: 'ok', method: 'publickey', user: LOGIN, credential: 'fleet' },
      login_shell: { status: 'ok', path: '/bin/bash' },
      interpreter: { status: 'ok', shell: 'bash' },
      sudo: [{ status: 'ok', user: 'root', method: 'sudo', rules: ['restarts as root'] }],
      sftp: { status: 'ok', needed: true },
    });
    expect(by.behind).toMatchObject({ ok: true, jump_chain: ['good'], sftp: { status: 'ok', needed: false } });

    expect(by.rekeyed).toMatchObject({
      ok: false,
      reachable: { status: 'ok' },
      host_key: { status: 'failed', error: { code: 'host_key_mismatch', message: expect.stringContaining(fp) } },
      login: { status: 'skipped' },
      interpreter: { status: 'skipped' },
    });

    expect(by.nobash).toMatchObject({
      ok: false,
      login: { status: 'ok' },
      interpreter: {
        status: 'failed',
        shell: 'bash',
        error: { message: expect.stringMatching(/exit status 127.*bash/), hint: expect.stringContaining('shell: sh') },
      },
      login_shell: { status: 'ok', path: '/bin/sh' },
      sftp: { status: 'ok' },
    });
    expect(by.shonly).toMatchObject({ ok: true, interpreter: { status: 'ok', shell: 'sh' }, login_shell: { path: '/bin/sh' } });

    expect(by.nosudo).toMatchObject({
      ok: false,
      interpreter: { status: 'ok' },
      sudo: [{ status: 'failed', user: 'daemon', error: { code: 'become_failed', hint: expect.stringContaining('NOPASSWD') } }],
    });
    expect(by.down).toMatchObject({
      ok: false,
      reachable: { status: 'failed', error: { code: 'connect_failed', message: expect.stringContaining('ECONNREFUSED') } },
      host_key: { status: 'skipped' },
    });
    // Every command ended with its check, and the connections with the command.
    expect(await processesOf(LOGIN)).toBe('');
    expect(await processesOf(SH_LOGIN)).toBe('');
  });

  it('passes for the hosts of a tag, after the checks of sshgate check, and prints a block per host', () => {
    const r = check('--connect', '@ok');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\nOK\nconnect: 3 hosts, up to 16 at a time\n/);
    const good = fleet.hosts[0] as Fleet['hosts'][0];
    expect(r.stdout).toContain(`good (${good.host}:${good.port}): OK\n  reachable    yes, login in `);
    expect(r.stdout).toContain(`  login        publickey as ${LOGIN} (credential "fleet")\n  login shell  /bin/bash\n`);
    expect(r.stdout).toContain('  sudo root    runs as root (rules: "restarts as root")\n  sftp         available\n');
    expect(r.stdout).toContain('behind (');
    expect(r.stdout).toContain(' via good): OK\n');
    expect(r.stdout).toContain('  become       no become rule names a user on this host\n');
    expect(r.stdout).toMatch(/connect: 3 of 3 hosts passed\n$/);
  });

  it('prints a failed step with its hint, and exits 1', () => {
    const r = check('--connect', 'nobash');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('nobash (');
    expect(r.stdout).toMatch(
      / {2}interpreter {2}FAILED: the pinned interpreter \(shell: bash, \/bin\/bash --noprofile --norc\) did not run a command: exit status 127/,
    );
    expect(r.stdout).toContain(
      '               hint: every command runs under it: install bash on the host, or pin shell: sh for it in servers.yml\n',
    );
    expect(r.stdout).toMatch(/connect: 0 of 1 host passed; failed: nobash\n$/);
  });

  it('refuses --json without --connect, and more than one target', () => {
    expect(check('--json').status).toBe(2);
    expect(check('--connect', 'good', 'behind').status).toBe(2);
    expect(check('good').status).toBe(2);
  });
});

describe('sshgate check --connect, a host without SFTP', () => {
  let bare: Fleet;
  let bareDir: string;
  beforeAll(async () => {
    bare = await startFleet(1, { subnet: NO_SFTP_SUBNET, sftp: false });
    const [h] = bare.hosts as [Fleet['hosts'][0]];
    bareDir = writeConfig(bare, {
      hosts: [
        { ...h, alias: 'files', user: LOGIN },
        { ...h, alias: 'commands', user: LOGIN },
      ],
      policy: `
rules:
  - { name: "anything", action: allow, commands: ["*"] }
files:
  - { name: "configs", action: allow, aliases: [files], read: ["/etc/*"] }
`,
    });
  });
  afterAll(async () => {
    await bare?.stop();
    if (bareDir) removeConfig(bareDir);
  });

  const checkBare = (...rest: string[]) =>
    spawnSync(
      process.execPath,
      [resolve('dist/cli.js'), 'check', '--config', join(bareDir, 'config'), '--policy', join(bareDir, 'policies'), ...rest],
      { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, timeout: 120_000 },
    );

  it('fails the host a file rule needs SFTP on, and only warns for a host no file rule names', () => {
    const r = checkBare('--connect', '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    const { hosts } = JSON.parse(r.stdout) as { hosts: HostCheck[] };
    const by = Object.fromEntries(hosts.map((h) => [h.alias, h]));
    // Commands run there: only the SFTP step differs between the two.
    expect(by.files).toMatchObject({
      ok: false,
      login: { status: 'ok' },
      interpreter: { status: 'ok' },
      sftp: {
        status: 'failed',
        needed: true,
        error: {
          code: 'connect_failed',
          message: expect.stringContaining('did not start its SFTP server'),
          hint: expect.stringContaining('Subsystem sftp'),
        },
      },
    });
    expect(by.commands).toMatchObject({
      ok: true,
      interpreter: { status: 'ok' },
      sftp: { status: 'warning', needed: false, error: { hint: expect.stringContaining('no file rule') } },
    });
  });

  it('prints the failed SFTP step with its hint', () => {
    const r = checkBare('--connect', 'files');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/ {2}sftp {9}FAILED: host "files" did not start its SFTP server/);
    expect(r.stdout).toContain('hint: the file tools need the SFTP subsystem: add "Subsystem sftp internal-sftp"');
    expect(r.stdout).toMatch(/connect: 0 of 1 host passed; failed: files\n$/);
  });
});
