/**
 * Cancel latency: how long ssh_cancel takes to return (it returns once the task is final), and
 * from its return to the remote command's processes being gone (a pipeline and a background job),
 * found by scanning /proc — the fleet's sshd runs on this machine.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { removeConfig, startGate, writeConfig } from '../test/support/mcp.js';
import { startFleet } from '../test/support/sshd.js';
import { BENCH_POLICY, median, p90, SERVER_NODE_ARGS, type Section } from './stats.js';

const ROUNDS = Number(process.env.BENCH_CANCEL_ROUNDS ?? 20);
/** Issue 18's bar: ssh_cancel returned → the remote tree gone. */
const BAR_MS = 50;

/** Pids whose command line is exactly `sleep <seconds>`. */
function sleeping(seconds: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'latin1') === `sleep\0${seconds}\0`) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Whether the process has ended: gone from /proc, or a zombie (dead, waiting for its parent). */
function ended(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

export async function cancelLatency(): Promise<Section> {
  const fleet = await startFleet(1, { subnet: 92 });
  const dir = writeConfig(fleet, { hosts: fleet.hosts, policy: BENCH_POLICY });
  const gate = await startGate(dir, { SSHGATE_LOG_LEVEL: 'warn' }, SERVER_NODE_ARGS);
  const ms: number[] = [];
  const calls: number[] = [];
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const n = String(900 + i);
      const r = await gate.ok<{ task_id: string; state: string }>('ssh_run', {
        alias: 'h1',
        command: `sleep ${n} | cat & sleep ${n}; wait`,
        wait_seconds: 0.3,
      });
      let pids: number[] = [];
      while ((pids = sleeping(n)).length < 2) await new Promise((res) => setTimeout(res, 5));
      const sent = performance.now();
      await gate.ok('ssh_cancel', { task_id: r.task_id });
      const t0 = performance.now();
      calls.push(t0 - sent);
      // Only the pids found before: a scan of all /proc takes milliseconds on a busy machine.
      while (!pids.every(ended)) {
        if (performance.now() - t0 > 10_000) throw new Error('a cancelled command is still running after 10 s');
        await new Promise((res) => setImmediate(res));
      }
      ms.push(performance.now() - t0);
    }
  } finally {
    await gate.close();
    await fleet.stop();
    removeConfig(dir);
  }
  return {
    title: `Cancel latency of a pipeline and a background job (N=${ROUNDS})`,
    table: [
      '| span (`sleep N \\| cat & sleep N; wait`) | runs | median ms | p90 ms |',
      '|---|---:|---:|---:|',
      `| ssh_cancel sent → returned (the task final) | ${calls.length} | ${median(calls).toFixed(1)} | ${p90(calls).toFixed(1)} |`,
      `| ssh_cancel returned → remote processes gone | ${ms.length} | ${median(ms).toFixed(1)} | ${p90(ms).toFixed(1)} |`,
    ],
    bars: [
      {
        bar: `cancel returned → remote tree gone ≤ ${BAR_MS} ms`,
        met: median(ms) <= BAR_MS,
        figure: `${median(ms).toFixed(1)} ms (the call itself ${median(calls).toFixed(1)} ms)`,
      },
    ],
  };
}
