/**
 * Warm round trip of `true` on one loopback OpenSSH host, in one run: sshgate's ssh_run over stdio
 * (the default log level) from a client of bare JSON-RPC lines (line-client.ts: the bar's row) and
 * from the MCP SDK's client, and two floors on an open raw ssh2 connection
 * (TCP_NODELAY, as sshgate sets it): `true` as it is, and the exec request sshgate itself sends
 * for `true` (the pinned interpreter and the pid line: interpreter.ts, cancel-sweep.ts), whose
 * difference is what the host does for sshgate; and a minimal stdio relay (relay-server.ts)
 * sending that request, whose difference from it is the process hop any stdio server pays. The
 * five go round by round, each round in
 * another order, so that whatever else loads the machine weighs on all alike. Then the ssh CLI
 * with a ControlMaster connection, and cold. Also CPU time per call: the server's (all its
 * threads, from /proc) against the raw client's. Prints medians and ratios; asserts nothing.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ssh2 from 'ssh2';
import { pidMarker, withPidLine } from '../src/ssh/cancel-sweep.js';
import { pinnedCommand } from '../src/ssh/interpreter.js';
import { removeConfig, startGate, writeConfig } from '../test/support/mcp.js';
import { startLineClient } from './line-client.js';
import { startFleet } from '../test/support/sshd.js';
import { BENCH_POLICY, median, p90, SERVER_NODE_ARGS, time, type Section } from './stats.js';

const N = Number(process.env.BENCH_N ?? 300);
/** The issue 18 bar: sshgate's own part of a warm call. */
const OVERHEAD_BAR_MS = 0.6;

export async function warmRun(): Promise<Section> {
  const fleet = await startFleet(1, { subnet: 90 });
  const host = fleet.hosts[0] as { alias: string; host: string; port: number };
  const names = [
    'raw ssh2 exec `true` (warm)',
    'raw ssh2 exec of the request sshgate sends (warm)',
    'sshgate ssh_run via MCP, a client of JSON-RPC lines (warm)',
    'sshgate ssh_run via MCP, the SDK client (warm)',
    'a minimal stdio relay running the request sshgate sends (relay-server.ts, JSON-RPC lines)',
  ];
  const samples: number[][] = [[], [], [], [], []];
  const rows: [string, number[]][] = [];
  let rawCpuUs = 0;
  let serverCpuUs = 0;
  let sdkServerCpuUs = 0;
  try {
    const client = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      const sock = connect({ host: host.host, port: host.port });
      sock.setNoDelay(true);
      client.on('ready', () => resolve()).on('error', reject);
      client.connect({ sock, username: fleet.user, privateKey: readFileSync(fleet.userKeyPath) });
    });
    const raw = (command: () => string) => () =>
      new Promise<void>((resolve, reject) =>
        client.exec(command(), (err, ch) => {
          if (err) return reject(err);
          ch.on('close', () => resolve()).resume();
          ch.stderr.resume();
          // As sshgate does for a command given no stdin.
          ch.end();
        }),
      );
    const rawTrue = raw(() => 'true');
    const rawPinned = raw(() => pinnedCommand('bash', withPidLine('true', pidMarker())));

    const dir = writeConfig(fleet, { hosts: fleet.hosts, policy: BENCH_POLICY });
    const gate = await startGate(dir, { SSHGATE_LOG_LEVEL: 'info' }, SERVER_NODE_ARGS);
    // Each server its own state dir: two servers of one deployment share their journal's lock.
    const lines = await startLineClient(dir, { SSHGATE_LOG_LEVEL: 'info', SSHGATE_STATE_DIR: join(dir, 'state-lines') }, SERVER_NODE_ARGS);
    const checked = (r: { isError?: boolean; content?: unknown }) => {
      if (r.isError) throw new Error(JSON.stringify(r.content));
    };
    const viaLines = async () => checked(await lines.call('ssh_run', { alias: host.alias, command: 'true' }));
    const viaGate = async () => checked(await gate.call('ssh_run', { alias: host.alias, command: 'true' }));
    const relay = await startLineClient(dir, {}, SERVER_NODE_ARGS, [
      fileURLToPath(new URL('./relay-server.js', import.meta.url)),
      host.host,
      String(host.port),
      fleet.user,
      fleet.userKeyPath,
    ]);
    const viaRelay = async () =>
      checked(await relay.call('ssh_run', { alias: host.alias, command: pinnedCommand('bash', withPidLine('true', pidMarker())) }));
    const paths = [rawTrue, rawPinned, viaLines, viaGate, viaRelay];
    for (const path of paths) await time(20, path);
    const pid = lines.pid;
    const sdkPid = gate.transport.pid as number;
    const serverAtStart = cpuUs(pid);
    const sdkServerAtStart = cpuUs(sdkPid);
    for (let round = 0; round < N; round++) {
      for (let k = 0; k < paths.length; k++) {
        const i = (round + k) % paths.length;
        const before = process.cpuUsage();
        const [ms] = await time(1, paths[i] as () => Promise<void>);
        if (i === 0) rawCpuUs += cpuOf(process.cpuUsage(before));
        (samples[i] as number[]).push(ms as number);
      }
    }
    serverCpuUs = cpuUs(pid) - serverAtStart;
    sdkServerCpuUs = cpuUs(sdkPid) - sdkServerAtStart;
    client.end();
    await gate.close();
    await lines.close();
    await relay.close();
    removeConfig(dir);
    names.forEach((name, i) => rows.push([name, samples[i] as number[]]));

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

  const floor = median(samples[0] as number[]);
  const pinnedFloor = median(samples[1] as number[]);
  const viaMcp = median(samples[2] as number[]);
  const viaSdk = median(samples[3] as number[]);
  const viaRelay = median(samples[4] as number[]);
  const overhead = viaMcp - pinnedFloor;
  const lines = [
    '| path | runs | median ms | p90 ms | vs raw ssh2 `true` |',
    '|---|---:|---:|---:|---:|',
    ...rows.map(([name, xs]) => {
      const m = median(xs);
      return `| ${name} | ${xs.length} | ${m.toFixed(2)} | ${p90(xs).toFixed(2)} | ${(m / floor).toFixed(2)}× (+${(m - floor).toFixed(2)} ms) |`;
    }),
    '',
    `sshgate's own part: ${overhead.toFixed(2)} ms over the raw request it sends; the host's part (pinned interpreter, pid line): ${(pinnedFloor - floor).toFixed(2)} ms; the SDK client's: ${(viaSdk - viaMcp).toFixed(2)} ms.`,
    `Of sshgate's own part, the stdio hop a minimal relay pays too: ${(viaRelay - pinnedFloor).toFixed(2)} ms; sshgate's work beyond it: ${(viaMcp - viaRelay).toFixed(2)} ms.`,
    `CPU per call: the server ${(serverCpuUs / N / 1000).toFixed(2)} ms (all threads; ${(sdkServerCpuUs / N / 1000).toFixed(2)} ms serving the SDK client), the raw ssh2 client ${(rawCpuUs / N / 1000).toFixed(2)} ms.`,
  ];
  return {
    title: `Warm round trip of "true" on one host (N=${N}, alternated)`,
    table: lines,
    bars: [
      {
        bar: `warm ssh_run within ${OVERHEAD_BAR_MS} ms of raw ssh2 sending the same request`,
        met: overhead <= OVERHEAD_BAR_MS,
        figure: `+${overhead.toFixed(2)} ms (${(viaMcp / pinnedFloor).toFixed(2)}×; raw \`true\` ${floor.toFixed(2)} ms, ${(viaMcp / floor).toFixed(2)}×)`,
      },
    ],
  };
}

function cpuOf(u: NodeJS.CpuUsage): number {
  return u.user + u.system;
}

/** A process's CPU time so far, user and system, all threads, in µs (the clock ticks of /proc). */
function cpuUs(pid: number): number {
  const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * (1e6 / 100);
}
