/**
 * Does a call cost more when the server keeps many finished tasks? Three servers side by side on
 * one loopback host, their warm ssh_run calls alternated (so that drift falls on all three alike):
 * keeping 10, 1,000 and 10,000 finished tasks (SSHGATE_MAX_TASKS), each at its cap. Issue 18's bar: flat within 3%. Figures only; part of
 * `npm run bench` (BENCH_ONLY=registry).
 */
import { removeConfig, startGate, writeConfig, type Gate } from '../test/support/mcp.js';
import { startFleet } from '../test/support/sshd.js';
import { BENCH_LIMITS, median, p90, SERVER_NODE_ARGS, type Section } from './stats.js';

const N = Number(process.env.BENCH_N ?? 300);
// Nothing expires during the run: forgetting costs a journal write of its own, which would fall
// on one server only.
const POLICY = `
limits: { task_result_ttl: 3600, ${BENCH_LIMITS} }
rules:
  - { name: bench, action: allow, commands: ["true"] }
`;

export async function registry(): Promise<Section> {
  const fleet = await startFleet(1, { subnet: 89 });
  const alias = (fleet.hosts[0] as { alias: string }).alias;
  const servers: { label: string; gate: Gate; dir: string; times: number[] }[] = [];
  const call = async (gate: Gate) => {
    const r = await gate.call('ssh_run', { alias, command: 'true' });
    if (r.isError) throw new Error(JSON.stringify(r.content));
  };
  try {
    // Each server is at its cap, as a busy server is: every new task makes it forget one (a
    // journal write of its own), so the servers differ only in how many they keep. Each has run
    // at least 2,000 calls before (the same warmth of V8's compiled code).
    for (const [label, cap, calls] of [
      ['10 kept', 10, 2_000],
      ['1,000 kept (the default)', 1_000, 2_000],
      ['10,000 kept', 10_000, 10_000],
    ] as const) {
      const dir = writeConfig(fleet, { hosts: fleet.hosts, policy: POLICY });
      const gate = await startGate(dir, { SSHGATE_LOG_LEVEL: 'warn', SSHGATE_MAX_TASKS: String(cap) }, SERVER_NODE_ARGS);
      servers.push({ label, gate, dir, times: [] });
      process.stderr.write(`bench: registry: ${calls} calls to the server keeping ${label}…\n`);
      for (let i = 0; i < calls; i++) await call(gate);
    }
    for (const s of servers) for (let i = 0; i < 20; i++) await call(s.gate);
    for (let i = 0; i < N; i++) {
      for (const s of servers) {
        const t0 = performance.now();
        await call(s.gate);
        s.times.push(performance.now() - t0);
      }
    }
  } finally {
    for (const s of servers) {
      await s.gate.close();
      removeConfig(s.dir);
    }
    await fleet.stop();
  }
  const reference = median(servers[0]?.times ?? [1]);
  const worst = Math.max(...servers.map((s) => median(s.times) / reference));
  return {
    title: `Warm round trip with finished tasks kept (N=${N} each, alternated)`,
    table: [
      '| server | median ms | p90 ms | vs 10 kept |',
      '|---|---:|---:|---:|',
      ...servers.map((s) => {
        const m = median(s.times);
        return `| ${s.label} | ${m.toFixed(2)} | ${p90(s.times).toFixed(2)} | ${((m / reference - 1) * 100).toFixed(1)}% |`;
      }),
    ],
    bars: [
      {
        bar: 'warm ssh_run flat within 3% with 10, 1,000 and 10,000 finished tasks kept',
        met: worst <= 1.03,
        figure: `worst +${((worst - 1) * 100).toFixed(1)}%`,
      },
    ],
  };
}
