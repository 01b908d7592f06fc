/**
 * Fan-out of `true` to 50 loopback OpenSSH hosts, in one run, beside parallel-ssh (Debian package
 * pssh) on the same hosts: sshgate's ssh_run_on_tag cold (a new connection to every host, from a
 * server that has been working — on one other host — before), warm (pooled connections), and the
 * very first call of a freshly started process (new connections and code run for the first time).
 * Medians and ratios; asserts nothing.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeConfig, startGate, writeConfig, type Gate } from '../test/support/mcp.js';
import { startFleet } from '../test/support/sshd.js';
import { BENCH_POLICY, median, SERVER_NODE_ARGS, type Section } from './stats.js';

const HOSTS = Number(process.env.BENCH_HOSTS ?? 50);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? HOSTS);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

async function fanOutOnce(gate: Gate, concurrency: number, hosts: number): Promise<number> {
  const t0 = performance.now();
  const r = await gate.call('ssh_run_on_tag', { tag: 'all', command: 'true', concurrency });
  const ms = performance.now() - t0;
  const summary = (r.structuredContent as { summary?: { succeeded: number } } | undefined)?.summary;
  if (r.isError || summary?.succeeded !== hosts) throw new Error(`fan-out failed: ${JSON.stringify(r.structuredContent ?? r.content)}`);
  return ms;
}

export async function fanOut(): Promise<Section> {
  // One more host than the fan-out: a fresh server first connects to it, so that "cold" measures new
  // connections to the 50 hosts rather than the first run of a fresh process's code.
  const fleet = await startFleet(HOSTS + 1, { subnet: 91 });
  const dir = writeConfig(fleet, {
    hosts: fleet.hosts.map((h, i) => ({ ...h, tags: i < HOSTS ? ['all'] : ['warm-up'] })),
    policy: BENCH_POLICY,
  });
  const first: number[] = [];
  const cold: number[] = [];
  const warm: number[] = [];
  const pssh: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // The first call of a freshly started server: new connections, and code run for the first time.
      const fresh = await startGate(dir, { SSHGATE_LOG_LEVEL: 'warn' }, SERVER_NODE_ARGS);
      first.push(await fanOutOnce(fresh, CONCURRENCY, HOSTS));
      await fresh.close();

      const gate = await startGate(dir, { SSHGATE_LOG_LEVEL: 'warn' }, SERVER_NODE_ARGS);
      // A server that has been up a while has run its code before: ten pings (a new connection
      // each) and ten fan-outs to the one host outside the measured fan-out stand for that.
      for (let i = 0; i < 10; i++) {
        const warmUp = await gate.call('ssh_ping', { alias: fleet.hosts[HOSTS]?.alias });
        if (!(warmUp.structuredContent as { reachable?: boolean } | undefined)?.reachable)
          throw new Error(`warm-up failed: ${JSON.stringify(warmUp.content)}`);
        await gate.ok('ssh_run_on_tag', { tag: 'warm-up', command: 'true' });
      }
      cold.push(await fanOutOnce(gate, CONCURRENCY, HOSTS));
      for (let i = 0; i < 3; i++) warm.push(await fanOutOnce(gate, CONCURRENCY, HOSTS));
      await gate.close();
    }

    const hostsFile = join(fleet.dir, 'pssh-hosts');
    writeFileSync(
      hostsFile,
      fleet.hosts
        .slice(0, HOSTS)
        .map((h) => `${h.host}:${h.port} ${fleet.user}\n`)
        .join(''),
    );
    const args = [
      '-h',
      hostsFile,
      '-p',
      String(HOSTS),
      '-t',
      '30',
      '-x',
      `-i ${fleet.userKeyPath}`,
      '-O',
      `UserKnownHostsFile=${fleet.knownHostsPath}`,
      '-O',
      'BatchMode=yes',
      '-O',
      'LogLevel=ERROR',
      'true',
    ];
    for (let round = 0; round < ROUNDS; round++) {
      const t0 = performance.now();
      execFileSync('parallel-ssh', args, { stdio: 'ignore' });
      pssh.push(performance.now() - t0);
    }
  } finally {
    await fleet.stop();
    removeConfig(dir);
  }

  const ref = median(pssh);
  const row = (name: string, xs: number[]) => `| ${name} | ${xs.length} | ${median(xs).toFixed(1)} | ${(ref / median(xs)).toFixed(1)}× |`;
  return {
    title: `Fan-out of "true" to ${HOSTS} hosts (ssh_run_on_tag) beside parallel-ssh`,
    table: [
      '| path | runs | median ms | speed-up vs parallel-ssh |',
      '|---|---:|---:|---:|',
      row(`sshgate, cold: new connections on a running server (concurrency ${CONCURRENCY})`, cold),
      row('sshgate, the first call of a freshly started server', first),
      row('sshgate, warm (pooled connections)', warm),
      row(`parallel-ssh -p ${HOSTS}`, pssh),
    ],
    bars: [
      { bar: 'cold fan-out ≥ 4× faster than parallel-ssh', met: ref / median(cold) >= 4, figure: `${(ref / median(cold)).toFixed(1)}×` },
      { bar: 'warm fan-out < 150 ms', met: median(warm) < 150, figure: `${median(warm).toFixed(1)} ms` },
    ],
  };
}
