import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Client } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshgateError } from '../../src/errors.js';
import { openConnection } from '../../src/ssh/connect.js';
import { execOnConnection } from '../../src/ssh/exec.js';
import { parseKnownHosts, verifyHostKey } from '../../src/ssh/host-keys.js';
import { startFleet, type Fleet, type FleetHost } from '../support/sshd.js';

let fleet: Fleet;
let client: Client;
beforeAll(async () => {
  fleet = await startFleet(2, { subnet: 62 });
  client = await connectTo(fleet.hosts[0] as FleetHost);
});
afterAll(async () => {
  client?.end();
  await fleet?.stop();
});

function connectTo(h: FleetHost, knownHosts = readFileSync(fleet.knownHostsPath, 'utf8')) {
  return openConnection({
    alias: h.alias,
    host: h.host,
    port: h.port,
    auth: { username: fleet.user, privateKey: readFileSync(fleet.userKeyPath) },
    hostKeys: { path: fleet.knownHostsPath, verify: (host, port, key) => verifyHostKey(parseKnownHosts(knownHosts), host, port, key) },
    timeoutMs: 5000,
  });
}

async function run(command: string, abortAfterMs?: number) {
  const controller = new AbortController();
  let out = '';
  let err = '';
  if (abortAfterMs !== undefined) setTimeout(() => controller.abort(), abortAfterMs);
  const outcome = await execOnConnection(client, command, {
    signal: controller.signal,
    stdout: (d) => void (out += d.toString()),
    stderr: (d) => void (err += d.toString()),
    graceMs: 1000,
  });
  return { ...outcome, out, err };
}

/** The fleet user's processes on this machine (the fleet's sshd runs here) whose command line matches. */
function pgrep(pattern: string): string {
  try {
    return execFileSync('pgrep', ['-u', fleet.user, '-af', pattern], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

async function gone(pattern: string, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    if (pgrep(pattern) === '') return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return pgrep(pattern) === '';
}

describe('exec on a real sshd', () => {
  it('returns stdout, stderr and a non-zero exit code as a result', async () => {
    expect(await run('echo out; echo err >&2; exit 3')).toMatchObject({ exitCode: 3, signal: null, out: 'out\n', err: 'err\n' });
  });

  it('kills a background job and its parent shell on abort, leaving no process behind', async () => {
    const r = await run('sleep 307 & sleep 308; wait', 300);
    expect(r.exitCode === null || r.signal !== null || r.exitCode !== 0).toBe(true);
    expect(await gone('sleep 30[78]', 3000)).toBe(true);
  });

  it('kills a pipeline on abort', async () => {
    await run('yes | tail -c 1', 300);
    expect(await gone('^yes$', 3000)).toBe(true);
  });

  it('uses KILL after the grace period for a command that ignores TERM', async () => {
    const started = Date.now();
    await run("trap '' TERM; sleep 309", 300);
    expect(await gone('sleep 309', 3000)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });
});

describe('host keys on a real sshd', () => {
  it('refuses a host whose key differs from known_hosts, naming both fingerprints', async () => {
    const h = fleet.hosts[1] as FleetHost;
    const wrong = `[${h.host}]:${h.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n`;
    const err = await connectTo(h, wrong).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SshgateError);
    expect((err as SshgateError).code).toBe('host_key_mismatch');
    expect((err as SshgateError).message).toMatch(/offered SHA256:\S+, expected SHA256:\S+/);
  });

  it('refuses an unknown host', async () => {
    const err = await connectTo(fleet.hosts[1] as FleetHost, '').catch((e: unknown) => e);
    expect((err as SshgateError).code).toBe('host_key_unknown');
  });

  it('reports a port nobody listens on as connect_failed', async () => {
    const h = { ...(fleet.hosts[1] as FleetHost), port: 1 };
    const err = await connectTo(h).catch((e: unknown) => e);
    expect((err as SshgateError).code).toBe('connect_failed');
    expect((err as SshgateError).message).toMatch(/ECONNREFUSED/);
  });
});
