/**
 * A DEMO SSH host run by the system's own OpenSSH sshd: its own config, host key and
 * authorized_keys in a temporary folder, listening on 127.0.0.1 only, on a free high port. It logs
 * in the user running the demo, so it works only where sshd accepts that user (not a locked
 * account); the demo falls back to the embedded host otherwise.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { DemoHost } from './embedded-host.js';
import { ed25519KeyPair } from './keys.js';

export const SSHD = '/usr/sbin/sshd';

export async function startOpenSshHost(dir: string, userPublicKey: string): Promise<DemoHost> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is not installed`);
  const hostKey = ed25519KeyPair();
  writeFileSync(join(dir, 'host_ed25519'), hostKey.private, { mode: 0o600 });
  writeFileSync(join(dir, 'authorized_keys'), `${userPublicKey}\n`, { mode: 0o600 });
  const port = await freePort();
  const user = userInfo().username;
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_ed25519')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `AllowUsers ${user}`,
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  // As root, sshd wants its privilege-separation directory.
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const child = spawn(SSHD, ['-D', '-f', join(dir, 'sshd_config'), '-E', join(dir, 'sshd.log')], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', () => undefined);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  if (!(await listening(port, 5000))) {
    await stop();
    throw new Error('sshd did not start');
  }
  return { host: '127.0.0.1', port, hostPublicKey: hostKey.public.trim().split(' ').slice(0, 2).join(' '), kind: 'openssh', stop };
}

/** Whether the host logs `username` in with the key: sshd refuses a locked account, for one. */
export function canLogIn(h: DemoHost, username: string, privateKey: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = new ssh2.Client();
    const done = (ok: boolean) => {
      clearTimeout(timer);
      c.end();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 5000);
    c.on('ready', () => done(true)).on('error', () => done(false));
    c.connect({ host: h.host, port: h.port, username, privateKey, readyTimeout: 5000 });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function listening(port: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => (s.destroy(), resolve(false)));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
