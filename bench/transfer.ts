/**
 * File transfer throughput: one file (1 GiB of random bytes by default) moved to a loopback host
 * and back by ssh_put_file / ssh_get_file — through the MCP server, sha256 verified at both ends —
 * beside OpenSSH's own `scp` and `sftp` moving the same file in the same run, alternated round by
 * round. MB/s of each, sshgate's as a ratio of each reference, and the server's peak RSS (VmHWM)
 * during the transfer (a fresh server per round, so each peak is one transfer's).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeConfig, startGate, writeConfig } from '../test/support/mcp.js';
import { startFleet, TEST_USER, type Fleet } from '../test/support/sshd.js';
import { median, SERVER_NODE_ARGS, type Section } from './stats.js';

const BYTES = Number(process.env.BENCH_TRANSFER_BYTES ?? 1024 * 1024 * 1024);
const ROUNDS = Number(process.env.BENCH_TRANSFER_ROUNDS ?? 3);

function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

function uidOf(user: string): number {
  return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
}

/** OpenSSH's client options for the fleet's host, as the references use them. */
function sshOptions(fleet: Fleet): string[] {
  return [
    '-i',
    fleet.userKeyPath,
    '-o',
    `UserKnownHostsFile=${fleet.knownHostsPath}`,
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=yes',
  ];
}

function timed(run: () => void): number {
  const t0 = performance.now();
  run();
  return (performance.now() - t0) / 1000;
}

function mustSucceed(what: string, r: ReturnType<typeof spawnSync>): void {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${String(r.stderr).slice(-500)}`);
}

export async function transfer(): Promise<Section> {
  const fleet = await startFleet(1, { subnet: 95 });
  const host = fleet.hosts[0];
  if (!host) throw new Error('no host');
  const remote = mkdtempSync(join(tmpdir(), 'sshgate-bench-remote-'));
  chownSync(remote, uidOf(TEST_USER), uidOf(TEST_USER));
  const root = mkdtempSync(join(tmpdir(), 'sshgate-bench-root-'));
  chmodSync(root, 0o700);
  const local = join(root, 'payload.bin');
  execFileSync('sh', ['-c', `head -c ${BYTES} /dev/urandom > '${local}'`]);
  const scratch = mkdtempSync(join(tmpdir(), 'sshgate-bench-ref-'));
  const dir = writeConfig(fleet, {
    hosts: fleet.hosts,
    policy: `limits: { max_file_bytes: ${BYTES * 2}, max_seconds: 600 }
rules:
  - { name: none, action: allow, commands: ["true"] }
files:
  - { name: bench, action: allow, read: ["${remote}/*"], write: ["${remote}/*"] }
`,
  });
  mkdirSync(join(dir, 'state'), { recursive: true });
  const at = `${fleet.user}@${host.host}`;
  const rates: Record<string, number[]> = {
    'sshgate put': [],
    'scp put': [],
    'sftp put': [],
    'sshgate get': [],
    'scp get': [],
    'sftp get': [],
  };
  const peaks: number[] = [];
  const mbps = (seconds: number) => BYTES / 1e6 / seconds;
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const gate = await startGate(dir, { SSHGATE_LOG_LEVEL: 'warn', SSHGATE_TRANSFER_ROOT: root }, SERVER_NODE_ARGS);
      try {
        const path = `${remote}/sshgate-${i}.bin`;
        rates['sshgate put']?.push(
          mbps(await seconds(() => gate.ok('ssh_put_file', { alias: 'h1', local: 'payload.bin', path, wait_seconds: 600 }))),
        );
        rates['sshgate get']?.push(
          mbps(await seconds(() => gate.ok('ssh_get_file', { alias: 'h1', path, local: `back-${i}.bin`, wait_seconds: 600 }))),
        );
        peaks.push(peakRssMb(gate.transport.pid as number));
      } finally {
        await gate.close();
      }
      const scpTo = `${remote}/scp-${i}.bin`;
      rates['scp put']?.push(
        mbps(
          timed(() =>
            mustSucceed('scp put', spawnSync('scp', ['-q', ...sshOptions(fleet), '-P', String(host.port), local, `${at}:${scpTo}`])),
          ),
        ),
      );
      rates['scp get']?.push(
        mbps(
          timed(() =>
            mustSucceed(
              'scp get',
              spawnSync('scp', ['-q', ...sshOptions(fleet), '-P', String(host.port), `${at}:${scpTo}`, join(scratch, 'scp.bin')]),
            ),
          ),
        ),
      );
      const batch = join(scratch, 'batch');
      writeFileSync(batch, `put ${local} ${remote}/sftp-${i}.bin\n`);
      rates['sftp put']?.push(
        mbps(
          timed(() => mustSucceed('sftp put', spawnSync('sftp', ['-q', ...sshOptions(fleet), '-P', String(host.port), '-b', batch, at]))),
        ),
      );
      writeFileSync(batch, `get ${remote}/sftp-${i}.bin ${join(scratch, 'sftp.bin')}\n`);
      rates['sftp get']?.push(
        mbps(
          timed(() => mustSucceed('sftp get', spawnSync('sftp', ['-q', ...sshOptions(fleet), '-P', String(host.port), '-b', batch, at]))),
        ),
      );
      for (const f of [`sshgate-${i}.bin`, `scp-${i}.bin`, `sftp-${i}.bin`]) rmSync(join(remote, f), { force: true });
      rmSync(join(root, `back-${i}.bin`), { force: true });
    }
  } finally {
    await fleet.stop();
    removeConfig(dir);
    for (const d of [remote, root, scratch]) rmSync(d, { recursive: true, force: true });
  }
  const m = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, median(v)])) as Record<string, number>;
  const row = (dirn: 'put' | 'get') => {
    const own = m[`sshgate ${dirn}`] ?? 0;
    const scp = m[`scp ${dirn}`] ?? 1;
    const sftp = m[`sftp ${dirn}`] ?? 1;
    return `| ${dirn} | ${own.toFixed(0)} | ${scp.toFixed(0)} | ${sftp.toFixed(0)} | ${(own / scp).toFixed(2)}× | ${(own / sftp).toFixed(2)}× |`;
  };
  const rss = median(peaks);
  return {
    title: `Transferring ${(BYTES / 1048576).toFixed(0)} MiB of random bytes to a loopback host and back (${ROUNDS} rounds, alternated; sshgate verifies sha256 at both ends; server peak RSS ${rss.toFixed(0)} MB)`,
    table: [
      '| direction | sshgate MB/s | scp MB/s | sftp MB/s | sshgate / scp | sshgate / sftp |',
      '|---|---:|---:|---:|---:|---:|',
      row('put'),
      row('get'),
    ],
    bars: [{ bar: 'transfer peak RSS < 150 MB', met: rss < 150, figure: `${rss.toFixed(0)} MB` }],
  };
}

async function seconds(run: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await run();
  return (performance.now() - t0) / 1000;
}
