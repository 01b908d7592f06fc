/**
 * Fan-out of `true` to 50 loopback OpenSSH hosts, in one run, beside parallel-ssh (Debian package
 * pssh) and beside 50 plain ssh2 connections (ssh2's defaults, nothing of sshgate around them,
 * cold and then warm) on the same hosts: sshgate's ssh_run_on_tag cold (a new connection to every host, from a server
 * that has been working — on one other host — before), warm (pooled connections), and the very
 * first call of a freshly started process (new connections and code run for the first time). The
 * three take turns within each round, in an order that alternates, so that a load that comes and
 * goes on the machine falls on all of them. Medians and ratios; asserts nothing.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ssh2 from 'ssh2';
import { removeConfig, startGate, writeConfig, type Gate } from '../test/support/mcp.js';
import { startFleet, type Fleet, type FleetHost } from '../test/support/sshd.js';
import { BENCH_POLICY, median, SERVER_NODE_ARGS, type Section } from './stats.js';

const HOSTS = Number(process.env.BENCH_HOSTS ?? 50);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? HOSTS);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

/**
 * One ssh_run_on_tag of `true` to the hosts of `tag`, timed from the call to its answer; throws
 * unless every one of the `hosts` succeeded.
 */
export async function fanOutOnce(gate: Gate, concurrency: number, hosts: number, tag = 'all'): Promise<number> {
  const t0 = performance.now();
  const r = await gate.call('ssh_run_on_tag', { tag, command: 'true', concurrency, wait_seconds: 600 });
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
  const plain: number[] = [];
  const plainWarm: number[] = [];
  const pssh: number[] = [];
  const hostsFile = join(fleet.dir, 'pssh-hosts');
  writeFileSync(
    hostsFile,
    fleet.hosts
      .slice(0, HOSTS)
      .map((h) => `${h.host}:${h.port} ${fleet.user}\n`)
      .join(''),
  );
  const psshArgs = [
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
  const sshgate = async () => {
    // The first call of a freshly started server: new connections, and code run for the first time.
    const fresh = await startGate(dir, { SSHGATE_LOG_LEVEL: 'warn' }, SERVER_NODE_ARGS);
    first.push(await fanOutOnce(fresh, CONCURRENCY, HOSTS));
    await fresh.close();
    await settle();

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
  };
  const others: [() => Promise<void>, () => Promise<void>] = [
    async () => {
      const { cold: c, warm: w } = await plainSsh2(fleet, fleet.hosts.slice(0, HOSTS));
      plain.push(c);
      plainWarm.push(...w);
    },
    async () => {
      const t0 = performance.now();
      await promisify(execFile)('parallel-ssh', psshArgs);
      pssh.push(performance.now() - t0);
    },
  ];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? [sshgate, ...others] : [...others].reverse().concat(sshgate);
      for (const run of order) {
        await run();
        await settle();
      }
    }
  } finally {
    await fleet.stop();
    removeConfig(dir);
  }

  const ref = median(pssh);
  const row = (name: string, xs: number[]) => `| ${name} | ${xs.length} | ${median(xs).toFixed(1)} | ${(ref / median(xs)).toFixed(1)}× |`;
  const perRound = cold.map((c, i) => (pssh[i] as number) / c);
  return {
    title: `Fan-out of "true" to ${HOSTS} hosts (ssh_run_on_tag) beside parallel-ssh and plain ssh2`,
    table: [
      '| path | runs | median ms | speed-up vs parallel-ssh |',
      '|---|---:|---:|---:|',
      row(`sshgate, cold: new connections on a running server (concurrency ${CONCURRENCY})`, cold),
      row('sshgate, the first call of a freshly started server', first),
      row('sshgate, warm (pooled connections)', warm),
      row(`${HOSTS} plain ssh2 connections at once, ssh2's defaults, exec \`true\` on each`, plain),
      row(`the same ${HOSTS} plain ssh2 connections, warm: \`true\` on each again, all at once`, plainWarm),
      row(`parallel-ssh -p ${HOSTS}`, pssh),
      '',
      `Cold speed-up vs parallel-ssh by round: ${perRound.map((x) => `${x.toFixed(2)}×`).join(', ')}.`,
    ],
    bars: [
      // Two places: 4.996× must not read as the 5× it misses.
      { bar: 'cold fan-out ≥ 5× faster than parallel-ssh', met: ref / median(cold) >= 5, figure: `${(ref / median(cold)).toFixed(2)}×` },
      {
        bar: 'warm fan-out < 150 ms',
        met: median(warm) < 150,
        figure: `${median(warm).toFixed(1)} ms (plain ssh2, warm: ${median(plainWarm).toFixed(1)} ms)`,
      },
    ],
  };
}

/** Lets the sshd processes of the connections just closed exit before the next measurement. */
function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 500));
}

/**
 * The reference without sshgate: a plain ssh2 client per host, all at once, each with ssh2's
 * default algorithms and the key given as a file's bytes (ssh2 parses it per client), TCP_NODELAY
 * on; each runs `true` (cold: the whole time in ms), then all run it again at once, three times,
 * on the same connections (warm), and end.
 */
async function plainSsh2(fleet: Fleet, hosts: FleetHost[]): Promise<{ cold: number; warm: number[] }> {
  const key = readFileSync(fleet.userKeyPath);
  const exec = (client: ssh2.Client) =>
    new Promise<void>((resolve, reject) =>
      client.exec('true', (err, ch) => {
        if (err) return reject(err);
        ch.stderr.resume();
        ch.on('close', () => resolve()).resume();
      }),
    );
  const t0 = performance.now();
  const clients = await Promise.all(
    hosts.map(
      (h) =>
        new Promise<ssh2.Client>((resolve, reject) => {
          const client = new ssh2.Client();
          const sock = connect({ host: h.host, port: h.port });
          sock.setNoDelay(true);
          client.on('error', reject).on('ready', () => void exec(client).then(() => resolve(client), reject));
          client.connect({ sock, username: fleet.user, privateKey: key });
        }),
    ),
  );
  const cold = performance.now() - t0;
  const warm: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t1 = performance.now();
    await Promise.all(clients.map(exec));
    warm.push(performance.now() - t1);
  }
  for (const c of clients) c.end();
  return { cold, warm };
}
