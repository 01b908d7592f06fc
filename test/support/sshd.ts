/**
 * A fleet of real OpenSSH hosts on loopback for end-to-end tests: one address in 127.0.0.0/8 per
 * host, all on one high port, one sshd process per 16 addresses (OpenSSH listens on at most 16
 * sockets per process), a temporary host key, user key, authorized_keys and known_hosts.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { addUserOnce } from './system-user.js';

export const SSHD = '/usr/sbin/sshd';
/**
 * The login user of the fleet. Not root: OpenSSH runs a root session without the privilege-
 * separated child, and then refuses "signal" channel requests, so cancellation could not be tested.
 */
export const TEST_USER = 'sshgate-test';

/**
 * The fleet's user whose login shell is `shell` (a path): `sshgate-test-<name>`. Every fleet user
 * logs in with the fleet's key (authorized_keys is one file for all), so a test picks the login
 * shell by the host's `user:`.
 */
export function shellUser(shell: string): string {
  return `${TEST_USER}-${basename(shell)}`;
}
const PER_PROCESS = 16;

export interface FleetHost {
  alias: string;
  host: string;
  port: number;
}

export interface Fleet {
  dir: string;
  user: string;
  hosts: FleetHost[];
  userKeyPath: string;
  knownHostsPath: string;
  /** The host key line as known_hosts holds it (`ssh-ed25519 AAAA…`). */
  hostPublicKey: string;
  stop(): Promise<void>;
  /** SIGKILLs every sshd process of the fleet, established connections' included. */
  crash(): Promise<void>;
  /** Starts the fleet's sshd again on the same addresses, with a new host key if asked. */
  restart(options?: { newHostKey?: boolean }): Promise<void>;
}

export interface FleetOptions {
  /** First address is 127.<subnet>.0.20; distinct fleets in one run use distinct subnets. */
  subnet?: number;
  aliasPrefix?: string;
  /** sshd's MaxSessions (sessions per connection); 20 unless a test needs the limit. */
  maxSessions?: number;
  /** Accept password logins too (the test user's password is set by the test). */
  passwordAuthentication?: boolean;
  /** Login shells (paths) to have a user each, `shellUser(shell)`, besides TEST_USER's bash. */
  loginShells?: string[];
  /** More sshd_config lines, after the fleet's own (so a `Match` block may end the file). */
  sshdConfig?: string[];
  /**
   * Present a host certificate (HostCertificate): the fleet's host key signed by `ssh-keygen -s`
   * with the CA private key at `ca`, naming `principals(hosts)`, valid for `validity` (ssh-keygen's
   * -V; default +1d). Signed again when restart() makes a new host key.
   */
  hostCertificate?: { ca: string; principals: (hosts: FleetHost[]) => string[]; validity?: string };
  /** A CA public key file whose user certificates sshd accepts for any user they name (TrustedUserCAKeys). */
  trustedUserCaKeys?: string;
  /** The host key's type (ssh-keygen -t); ed25519 unless a test needs another. */
  hostKeyType?: 'ed25519' | 'ecdsa' | 'rsa';
  /** Offer the SFTP subsystem (default true); false for a host where only commands run. */
  sftp?: boolean;
}

export async function startFleet(count: number, options: FleetOptions = {}): Promise<Fleet> {
  const dir = mkdtempSync(join(tmpdir(), 'sshgate-fleet-'));
  // sshd reads authorized_keys as the login user.
  chmodSync(dir, 0o755);
  const user = TEST_USER;
  ensureUser(user);
  for (const shell of options.loginShells ?? []) ensureUser(shellUser(shell), shell);
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const keygen = (file: string, type = 'ed25519') =>
    execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'sshgate-test', '-f', file]);
  const hostKeyType = options.hostKeyType ?? 'ed25519';
  const hostKey = join(dir, `host_${hostKeyType}`);
  keygen(hostKey, hostKeyType);
  keygen(join(dir, 'user_ed25519'));
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'user_ed25519.pub')), { mode: 0o644 });
  const hostPublicKey = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');

  const subnet = options.subnet ?? 1 + Math.floor(Math.random() * 200);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const hosts: FleetHost[] = Array.from({ length: count }, (_, i) => ({
    alias: `${options.aliasPrefix ?? 'h'}${i + 1}`,
    // 230 to a third octet: .20 to .249, so a fleet of a thousand never makes an address past .255.
    host: `127.${subnet}.${Math.floor(i / 230)}.${20 + (i % 230)}`,
    port,
  }));
  writeFileSync(join(dir, 'known_hosts'), hosts.map((h) => `[${h.host}]:${h.port} ${hostPublicKey}\n`).join(''));
  const cert = options.hostCertificate;
  const certify = () => {
    if (!cert) return;
    const principals = cert.principals(hosts);
    execFileSync('ssh-keygen', [
      ...['-q', '-s', cert.ca, '-h', '-I', 'sshgate-test-host'],
      ...(principals.length > 0 ? ['-n', principals.join(',')] : []),
      ...['-V', cert.validity ?? '+1d', `${hostKey}.pub`],
    ]);
  };
  certify();

  const children: ChildProcess[] = [];
  const configs: string[] = [];
  for (let first = 0; first < hosts.length; first += PER_PROCESS) {
    const group = hosts.slice(first, first + PER_PROCESS);
    const n = first / PER_PROCESS;
    const config = join(dir, `sshd_config.${n}`);
    writeFileSync(
      config,
      [
        `Port ${port}`,
        ...group.map((h) => `ListenAddress ${h.host}`),
        `HostKey ${hostKey}`,
        ...(cert ? [`HostCertificate ${hostKey}-cert.pub`] : []),
        ...(options.trustedUserCaKeys ? [`TrustedUserCAKeys ${options.trustedUserCaKeys}`] : []),
        `PidFile ${join(dir, `sshd.${n}.pid`)}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        'UsePAM no',
        `PasswordAuthentication ${options.passwordAuthentication ? 'yes' : 'no'}`,
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        'StrictModes no',
        'MaxStartups 200:30:400',
        `MaxSessions ${options.maxSessions ?? 20}`,
        'LogLevel VERBOSE',
        // The file tools speak SFTP; in-process, so the fleet needs no sftp-server binary.
        ...(options.sftp === false ? [] : ['Subsystem sftp internal-sftp']),
        ...(options.sshdConfig ?? []),
        '',
      ].join('\n'),
    );
    configs.push(config);
  }
  // An sshd binds all its addresses before it accepts on any, so one probe per process tells that
  // it is up; a probe per address made sshd fork a session for each (a thousand at 1,000 hosts).
  const listening = () => Promise.all(hosts.filter((_, i) => i % PER_PROCESS === 0).map((h) => waitForPort(h.host, h.port, 10_000)));
  const launch = () => {
    configs.forEach((config, n) => {
      const child = spawn(SSHD, ['-D', '-f', config, '-E', join(dir, `sshd.${n}.log`)], { stdio: 'ignore' });
      // A missing sshd is reported by waitForPort below, with the hint; not as an uncaught error.
      child.on('error', (err) => writeFileSync(join(dir, `sshd.${n}.log`), `${SSHD}: ${err.message} (install openssh-server)\n`));
      children.push(child);
    });
  };
  launch();
  const fleet: Fleet = {
    dir,
    user,
    hosts,
    userKeyPath: join(dir, 'user_ed25519'),
    knownHostsPath: join(dir, 'known_hosts'),
    hostPublicKey,
    async stop() {
      await Promise.all(children.map((c) => stopChild(c)));
      rmSync(dir, { recursive: true, force: true });
    },
    crash() {
      // Every sshd of this fleet, the per-connection ones included, as if the machine went away.
      for (const c of children.splice(0)) {
        for (const pid of [...descendants(c.pid as number), c.pid as number]) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      return Promise.resolve();
    },
    async restart(restartOptions = {}) {
      if (restartOptions.newHostKey) {
        rmSync(hostKey, { force: true });
        rmSync(`${hostKey}.pub`, { force: true });
        keygen(hostKey, hostKeyType);
        certify();
        fleet.hostPublicKey = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
      }
      launch();
      await listening();
    },
  };
  try {
    await listening();
  } catch (err) {
    const logs = children.map((_, n) => safeRead(join(dir, `sshd.${n}.log`))).join('\n');
    await fleet.stop();
    throw new Error(`sshd did not start: ${(err as Error).message}\n${logs}`);
  }
  return fleet;
}

/**
 * Creates the login user if needed, with `shell` as its login shell (set again if it differs);
 * sshd refuses even key logins for a locked account.
 */
export function ensureUser(user: string, shell = '/bin/bash'): void {
  const entry = addUserOnce(user, ['--create-home', '--shell', shell]);
  if (entry.split(':')[6] !== shell) execFileSync('usermod', ['--shell', shell, user]);
  const status = execFileSync('passwd', ['-S', user], { encoding: 'utf8' }).split(' ')[1];
  if (status === 'L') execFileSync('usermod', ['-p', '*', user]);
}

function waitForPort(host: string, port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing listens on ${host}:${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** How many logins the fleet's first sshd has accepted so far: one per new SSH connection. */
export function acceptedLogins(fleet: Fleet): number {
  return safeRead(join(fleet.dir, 'sshd.0.log'))
    .split('\n')
    .filter((l) => l.includes('Accepted publickey')).length;
}

/** A loopback port nobody listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Every process below `pid`, from the parent pids in /proc. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = safeRead(join('/proc', entry, 'stat'));
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid) parent.set(Number(entry), ppid);
  }
  const out: number[] = [];
  let frontier = [pid];
  while (frontier.length > 0) {
    const next = [...parent].filter(([, pp]) => frontier.includes(pp)).map(([p]) => p);
    out.push(...next);
    frontier = next;
  }
  return out;
}
