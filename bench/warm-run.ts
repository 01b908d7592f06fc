/**
 * Warm round trip of `true` on one loopback OpenSSH host, in one run: sshgate's ssh_run through
 * the MCP SDK client (stdio), raw ssh2 exec on an open connection (TCP_NODELAY, as sshgate sets
 * it), the ssh CLI with a ControlMaster connection, and the ssh CLI cold. Prints medians and
 * ratios; asserts nothing. Part of `npm run bench` (bench/run.ts).
 */
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { removeConfig, startGate, writeConfig } from '../test/support/mcp.js';
import { startFleet } from '../test/support/sshd.js';
import { BENCH_POLICY, median, p90, SERVER_NODE_ARGS, time, type Section } from './stats.js';

const N = Number(process.env.BENCH_N ?? 300);

export async function warmRun(): Promise<Section> {
  const fleet = await startFleet(1, { subnet: 90 });
  const host = fleet.hosts[0] as { alias: string; host: string; port: number };
  const rows: [string, number[]][] = [];
  try {
    // Raw ssh2 on a warm connection.
    const client = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      const sock = connect({ host: host.host, port: host.port });
      sock.setNoDelay(true);
      client.on('ready', () => resolve()).on('error', reject);
      client.connect({ sock, username: fleet.user, privateKey: readFileSync(fleet.userKeyPath) });
    });
    const raw = () =>
      new Promise<void>((resolve, reject) =>
        client.exec('true', (err, ch) => {
          if (err) return reject(err);
          ch.on('close', () => resolve()).resume();
          ch.stderr.resume();
        }),
      );
    await time(20, raw);
    rows.push(['raw ssh2 exec (warm)', await time(N, raw)]);
    client.end();

    // sshgate through the MCP client.
    const dir = writeConfig(fleet, { hosts: fleet.hosts, policy: BENCH_POLICY });
    const gate = await startGate(dir, { SSHGATE_LOG_LEVEL: 'warn' }, SERVER_NODE_ARGS);
    const viaGate = async () => {
      const r = await gate.call('ssh_run', { alias: host.alias, command: 'true' });
      if (r.isError) throw new Error(JSON.stringify(r.content));
    };
    await time(20, viaGate);
    rows.push(['sshgate ssh_run via MCP (warm)', await time(N, viaGate)]);
    await gate.close();
    removeConfig(dir);

    // The ssh CLI, with and without a master connection.
    const base = [
      '-i',
      fleet.userKeyPath,
      '-p',
      String(host.port),
      '-o',
      `UserKnownHostsFile=${fleet.knownHostsPath}`,
      '-o',
      'BatchMode=yes',
      '-o',
      'LogLevel=ERROR',
    ];
    const control = ['-o', 'ControlMaster=auto', '-o', `ControlPath=${join(fleet.dir, 'cm-%C')}`, '-o', 'ControlPersist=60'];
    const cli = (extra: string[]) => () => execFileSync('ssh', [...base, ...extra, `${fleet.user}@${host.host}`, 'true']);
    await time(3, cli(control));
    rows.push(['ssh CLI with ControlMaster (warm)', await time(Math.min(N, 100), cli(control))]);
    rows.push(['ssh CLI (cold)', await time(20, cli([]))]);
    execFileSync('ssh', [...base, ...control, '-O', 'exit', `${fleet.user}@${host.host}`], { stdio: 'ignore' });
  } finally {
    await fleet.stop();
  }

  const reference = median(rows[0]?.[1] ?? [1]);
  const viaMcp = median(rows[1]?.[1] ?? [Infinity]);
  const lines = [
    '| path | runs | median ms | p90 ms | vs raw ssh2 |',
    '|---|---:|---:|---:|---:|',
    ...rows.map(([name, xs]) => {
      const m = median(xs);
      return `| ${name} | ${xs.length} | ${m.toFixed(2)} | ${p90(xs).toFixed(2)} | ${(m / reference).toFixed(2)}× (+${(m - reference).toFixed(2)} ms) |`;
    }),
  ];
  return {
    title: `Warm round trip of "true" on one host (N=${N})`,
    table: lines,
    bars: [{ bar: 'warm ssh_run within 2 ms of raw ssh2', met: viaMcp - reference <= 2, figure: `+${(viaMcp - reference).toFixed(2)} ms` }],
  };
}
