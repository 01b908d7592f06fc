/**
 * Streaming throughput: `head -c 200000000 /dev/zero` through one task with a 32 MiB cap per
 * stream, in MB/s of the task's own duration, and the server's peak RSS (VmHWM) while doing it; on
 * this Node and, with BENCH_SERVER_NODE, on that one too, round by round. The references take
 * their turns in the same rounds: raw ssh2 in this process (exec to close, the data counted and
 * dropped) and OpenSSH's client over a warm master connection (its stdout to /dev/null).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { ALLOW_ALL_POLICY, defaultEra, removeConfig, startGate, writeConfig } from '../test/support/mcp.js';
import { startFleet, type Fleet } from '../test/support/sshd.js';
import { serverTreeFor } from './server-tree.js';
import { median, SERVER_NODE, SERVER_NODE_ARGS, type Section } from './stats.js';

const BYTES = 200_000_000;
const CAP = Number(process.env.BENCH_STREAM_CAP ?? 32 * 1024 * 1024);
const ROUNDS = Number(process.env.BENCH_STREAM_ROUNDS ?? 3);
/** The one cipher the host offers, such as chacha20-poly1305@openssh.com; by default sshd's list. */
const CIPHER = process.env.BENCH_STREAM_CIPHER;
/** Issue 18's bar, on every Node measured. */
const RATE_BAR = 500;

/** What ssh2 runs in this process's node_modules, as the rows say it. */
function cryptoHere(): 'native crypto' | 'JavaScript crypto' {
  return (createRequire(import.meta.url)('ssh2/lib/protocol/crypto.js') as { bindingAvailable: boolean }).bindingAvailable
    ? 'native crypto'
    : 'JavaScript crypto';
}

function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

/** MB/s of raw ssh2 streaming the same command on a connection made beforehand. */
async function rawSsh2Rate(fleet: Fleet, client: ssh2.Client): Promise<number> {
  const t0 = performance.now();
  let bytes = 0;
  await new Promise<void>((resolve, reject) =>
    client.exec(`head -c ${BYTES} /dev/zero`, (err, ch) => {
      if (err) return reject(err);
      ch.on('data', (d: Buffer) => (bytes += d.length)).on('close', () => resolve());
      ch.stderr.resume();
      ch.end();
    }),
  );
  if (bytes !== BYTES) throw new Error(`raw ssh2 stream of ${fleet.hosts[0]?.alias} ended after ${bytes} bytes`);
  return BYTES / 1e6 / ((performance.now() - t0) / 1000);
}

/** MB/s of `ssh` streaming the same command over a master connection (ControlMaster) made beforehand. */
async function sshCliRate(args: string[]): Promise<number> {
  const t0 = performance.now();
  const child = spawn('ssh', [...args, `head -c ${BYTES} /dev/zero`], { stdio: ['ignore', 'ignore', 'inherit'] });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`ssh streaming exited ${code}`);
  return BYTES / 1e6 / ((performance.now() - t0) / 1000);
}

export async function throughput(): Promise<Section> {
  const fleet = await startFleet(1, { subnet: 93, sshdConfig: CIPHER ? [`Ciphers ${CIPHER}`] : [] });
  const dir = writeConfig(fleet, {
    hosts: fleet.hosts,
    policy: `limits: { max_output_bytes: ${CAP}, max_seconds: 120 }\n${ALLOW_ALL_POLICY}`,
  });
  // This Node, and the one BENCH_SERVER_NODE names (the Docker image's), round by round; that one
  // from a copy of the build whose ssh2 has the native crypto built for it, as the image has.
  const here = { cli: undefined, crypto: cryptoHere() };
  const nodes = [{ path: process.execPath, ...here }, ...(SERVER_NODE ? [{ path: SERVER_NODE, ...serverTreeFor(SERVER_NODE) }] : [])].map(
    (n) => ({
      ...n,
      version: execFileSync(n.path, ['--version'], { encoding: 'utf8' }).trim(),
      rates: [] as number[],
      peaks: [] as number[],
      idle: 0,
    }),
  );
  for (const n of nodes)
    if ('why' in n && n.why) process.stderr.write(`bench: stream: Node ${n.version} runs ssh2's ${n.crypto}: ${n.why}\n`);
  const serverEnv = process.env.BENCH_SERVER_ENV ? (JSON.parse(process.env.BENCH_SERVER_ENV) as Record<string, string>) : {};
  const host = fleet.hosts[0] as Fleet['hosts'][0];
  const raw = new ssh2.Client();
  const sshArgs = [
    ...['-i', fleet.userKeyPath, '-p', String(host.port), '-o', `UserKnownHostsFile=${fleet.knownHostsPath}`],
    ...['-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-o', 'ControlMaster=auto', '-o', `ControlPath=${join(fleet.dir, 'cm-%C')}`],
    ...['-o', 'ControlPersist=60', `${fleet.user}@${host.host}`],
  ];
  const references = [
    { name: `raw ssh2 in the benchmark (Node ${process.version.slice(1)})`, measure: () => rawSsh2Rate(fleet, raw), rates: [] as number[] },
    { name: 'OpenSSH `ssh`, master connection warm', measure: () => sshCliRate(sshArgs), rates: [] as number[] },
  ];
  try {
    await new Promise<void>((resolve, reject) => {
      raw.on('ready', () => resolve()).on('error', reject);
      raw.connect({
        sock: connect({ host: host.host, port: host.port }),
        username: fleet.user,
        privateKey: readFileSync(fleet.userKeyPath),
      });
    });
    execFileSync('ssh', [...sshArgs, 'true']);
    // A fresh server per round: a finished task keeps its output for its TTL, and the peak of one
    // stream is what is measured here, not of several kept side by side.
    for (let i = 0; i < ROUNDS; i++) {
      for (const node of nodes) {
        const gate = await startGate(dir, { SSHGATE_LOG_LEVEL: 'warn', ...serverEnv }, SERVER_NODE_ARGS, defaultEra(), node.path, node.cli);
        try {
          node.idle = Math.max(node.idle, peakRssMb(gate.transport.pid as number));
          const { task_id } = await gate.ok<{ task_id: string }>('ssh_run_async', { alias: 'h1', command: `head -c ${BYTES} /dev/zero` });
          let s: { state: string; duration_ms: number; stdout_bytes: number };
          do {
            await new Promise((r) => setTimeout(r, 100));
            s = await gate.ok('ssh_get_task_status', { task_id });
          } while (s.state === 'running' || s.state === 'queued');
          if (s.state !== 'succeeded' || s.stdout_bytes !== BYTES) throw new Error(`stream ended ${s.state} after ${s.stdout_bytes} bytes`);
          node.rates.push(BYTES / 1e6 / (s.duration_ms / 1000));
          node.peaks.push(peakRssMb(gate.transport.pid as number));
        } finally {
          await gate.close();
        }
      }
      for (const r of references) r.rates.push(await r.measure());
    }
  } finally {
    raw.end();
    // The master connection, if it was made, goes with the fleet's sshd anyway.
    spawnSync('ssh', [...sshArgs.slice(0, -1), '-O', 'exit', sshArgs.at(-1) as string], { stdio: 'ignore' });
    await fleet.stop();
    removeConfig(dir);
  }
  return {
    title: `Streaming ${BYTES / 1e6} MB of output through one task (cap ${CAP / 1048576} MiB per stream${CIPHER ? `, ${CIPHER}` : ''})`,
    table: [
      '| streamed by | runs | median MB/s | vs raw ssh2 | vs `ssh` | server peak RSS MB, idle → streaming |',
      '|---|---:|---:|---:|---:|---:|',
      ...nodes.map(
        (n) =>
          `| sshgate on Node ${n.version.slice(1)}, ssh2's ${n.crypto} | ${n.rates.length} | ${median(n.rates).toFixed(0)} | ${ratio(n.rates, references[0])} | ${ratio(n.rates, references[1])} | ${n.idle.toFixed(0)} → ${median(n.peaks).toFixed(0)} |`,
      ),
      ...references.map(
        (r) =>
          `| ${r.name} | ${r.rates.length} | ${median(r.rates).toFixed(0)} | ${ratio(r.rates, references[0])} | ${ratio(r.rates, references[1])} | — |`,
      ),
    ],
    bars: nodes.flatMap((n) => [
      {
        bar: `≥ ${RATE_BAR} MB/s streaming, Node ${n.version.slice(1)}`,
        met: median(n.rates) >= RATE_BAR,
        figure: `${median(n.rates).toFixed(0)} MB/s`,
      },
      { bar: `peak RSS < 150 MB, Node ${n.version.slice(1)}`, met: median(n.peaks) < 150, figure: `${median(n.peaks).toFixed(0)} MB` },
    ]),
  };
}

function ratio(rates: number[], reference: { rates: number[] } | undefined): string {
  return reference ? `${(median(rates) / median(reference.rates)).toFixed(2)}×` : '—';
}
