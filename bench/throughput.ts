/**
 * Streaming throughput: `head -c 200000000 /dev/zero` through one task with a 32 MiB cap per
 * stream, in MB/s of the task's own duration, and the server's peak RSS (VmHWM) while doing it; on
 * this Node and, with BENCH_SERVER_NODE, on that one too, round by round.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ALLOW_ALL_POLICY, defaultEra, removeConfig, startGate, writeConfig } from '../test/support/mcp.js';
import { startFleet } from '../test/support/sshd.js';
import { median, SERVER_NODE, SERVER_NODE_ARGS, type Section } from './stats.js';

const BYTES = 200_000_000;
const CAP = Number(process.env.BENCH_STREAM_CAP ?? 32 * 1024 * 1024);
const ROUNDS = Number(process.env.BENCH_STREAM_ROUNDS ?? 3);
/** The one cipher the host offers, such as chacha20-poly1305@openssh.com; by default sshd's list. */
const CIPHER = process.env.BENCH_STREAM_CIPHER;
/** Issue 18's bar, on every Node measured. */
const RATE_BAR = 500;

function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

export async function throughput(): Promise<Section> {
  const fleet = await startFleet(1, { subnet: 93, sshdConfig: CIPHER ? [`Ciphers ${CIPHER}`] : [] });
  const dir = writeConfig(fleet, {
    hosts: fleet.hosts,
    policy: `limits: { max_output_bytes: ${CAP}, max_seconds: 120 }\n${ALLOW_ALL_POLICY}`,
  });
  // This Node, and the one BENCH_SERVER_NODE names (the Docker image's), round by round.
  const nodes = [process.execPath, ...(SERVER_NODE ? [SERVER_NODE] : [])].map((path) => ({
    path,
    version: execFileSync(path, ['--version'], { encoding: 'utf8' }).trim(),
    rates: [] as number[],
    peaks: [] as number[],
    idle: 0,
  }));
  const serverEnv = process.env.BENCH_SERVER_ENV ? (JSON.parse(process.env.BENCH_SERVER_ENV) as Record<string, string>) : {};
  try {
    // A fresh server per round: a finished task keeps its output for its TTL, and the peak of one
    // stream is what is measured here, not of several kept side by side.
    for (let i = 0; i < ROUNDS; i++) {
      for (const node of nodes) {
        const gate = await startGate(dir, { SSHGATE_LOG_LEVEL: 'warn', ...serverEnv }, SERVER_NODE_ARGS, defaultEra(), node.path);
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
    }
  } finally {
    await fleet.stop();
    removeConfig(dir);
  }
  return {
    title: `Streaming ${BYTES / 1e6} MB of output through one task (cap ${CAP / 1048576} MiB per stream${CIPHER ? `, ${CIPHER}` : ''})`,
    table: [
      '| server on | runs | median MB/s | server peak RSS MB, idle → streaming |',
      '|---|---:|---:|---:|',
      ...nodes.map(
        (n) =>
          `| Node ${n.version.slice(1)} | ${n.rates.length} | ${median(n.rates).toFixed(0)} | ${n.idle.toFixed(0)} → ${median(n.peaks).toFixed(0)} |`,
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
