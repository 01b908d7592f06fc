import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshgateError } from '../../src/errors.js';
import { parseKnownHosts, verifyHostKey } from '../../src/ssh/host-keys.js';
import { ConnectionPool, type HostTarget } from '../../src/ssh/pool.js';
import { acceptedLogins, closedPort, startFleet, type Fleet } from '../support/sshd.js';

let fleet: Fleet;
let pool: ConnectionPool;
let target: HostTarget;
beforeAll(async () => {
  fleet = await startFleet(1, { subnet: 66 });
  const known = parseKnownHosts(readFileSync(fleet.knownHostsPath, 'utf8'));
  const h = fleet.hosts[0] as Fleet['hosts'][number];
  target = {
    alias: h.alias,
    host: h.host,
    port: h.port,
    shell: 'bash',
    auth: { username: fleet.user, privateKey: readFileSync(fleet.userKeyPath) },
    hostKeys: { path: fleet.knownHostsPath, verify: (host, port, key) => verifyHostKey(known, host, port, key) },
  };
  pool = new ConnectionPool({ logger: pino({ level: 'silent' }), idleMs: 400, keepaliveMs: 5000, connectTimeoutMs: 5000 });
});
afterAll(async () => {
  await pool?.close();
  await fleet?.stop();
});

const logins = () => acceptedLogins(fleet);

async function run(t: HostTarget, command: string, deadlineMs = 5000) {
  let out = '';
  const outcome = await pool.exec(t, command, {
    signal: new AbortController().signal,
    deadline: Date.now() + deadlineMs,
    stdout: (d) => void (out += d.toString()),
    stderr: () => undefined,
  });
  return { ...outcome, out };
}

describe('the connection pool', () => {
  it('runs commands on one warm connection, without the pid line in the output', async () => {
    const before = logins();
    for (const n of [1, 2, 3]) expect((await run(target, `echo ${n}`)).out).toBe(`${n}\n`);
    expect(logins() - before).toBe(1);
  });

  it('closes an idle connection, and the next command opens a new one', async () => {
    await run(target, 'true');
    const before = logins();
    await new Promise((r) => setTimeout(r, 700));
    expect((await run(target, 'echo again')).out).toBe('again\n');
    expect(logins() - before).toBe(1);
  });

  it('drops a connection that dies under a command, and reconnects for the next', async () => {
    // The shell's parent is the connection's sshd process: killing it drops the connection.
    const dying = await run(target, 'kill -9 $PPID; sleep 5');
    expect(dying.lost).toBeTruthy();
    expect((await run(target, 'echo back')).out).toBe('back\n');
  });

  it('backs off from a failing host and fails at once when the next try is past the deadline', async () => {
    const port = await closedPort();
    const dead: HostTarget = { ...target, alias: 'dead', host: '127.0.0.1', port };
    const first = await run(dead, 'true').catch((e: unknown) => e);
    expect(first).toBeInstanceOf(SshgateError);
    expect((first as SshgateError).code).toBe('connect_failed');
    // Two more failures push the next attempt 2 s out.
    await run(dead, 'true').catch(() => undefined);
    await run(dead, 'true').catch(() => undefined);
    const t0 = Date.now();
    const fast = await run(dead, 'true', 500).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(300);
    expect((fast as SshgateError).code).toBe('connect_failed');
    expect((fast as SshgateError).hint).toMatch(/tries this host again in \d+ s/);
  });
});
