/**
 * The scale curve: one sshgate server process, one inventory of 1,000 loopback OpenSSH hosts
 * (sshd processes of 16 addresses each), and fan-outs of `true` to the first 50, 200, 500 and
 * 1,000 of them (a tag each). For each size: cold latency (every connection new: a reload retires
 * the pool before each cold run) and warm latency (pooled) at every fan-out concurrency of a sweep,
 * the concurrencies alternated forward and backward over the rounds; then the server's peak RSS,
 * its RSS per pooled connection ((RSS with N pooled − idle RSS) / N) and its open file descriptors.
 * Prints the tables and writes the chart (docs/scale.svg; BENCH_SCALE_SVG elsewhere). Asserts
 * nothing.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { removeConfig, startGate, writeConfig, type Gate } from '../test/support/mcp.js';
import { startFleet } from '../test/support/sshd.js';
import { svgChart, type Series } from './chart.js';
import { fanOutOnce } from './fan-out.js';
import { BENCH_POLICY, median, SERVER_NODE_ARGS, type Section } from './stats.js';

const list = (v: string) =>
  v
    .split(',')
    .map(Number)
    .filter((n) => n > 0);
const SIZES = list(process.env.BENCH_SCALE_SIZES ?? '50,200,500,1000').sort((a, b) => a - b);
const ROUNDS = Number(process.env.BENCH_SCALE_ROUNDS ?? 3);
/** The tool's own bound on concurrency (tool-contract.ts) is the sweep's top. */
const SWEEP = list(process.env.BENCH_SCALE_CONCURRENCY ?? '8,16,32,64,128,256');
/** A concurrency whose cold median is within this fraction of the sweep's best no longer improves latency. */
const KNEE = 0.05;
const SVG = process.env.BENCH_SCALE_SVG ?? new URL('../../docs/scale.svg', import.meta.url).pathname;

interface SizeResult {
  hosts: number;
  /** Cold and warm medians by concurrency. */
  cold: Map<number, number>;
  warm: Map<number, number>;
  coldRuns: number;
  /** The server's CPU time (user + system) per host of a cold fan-out, median. */
  cpuPerHostMs: number;
  peakRssMb: number;
  rssPerConnKb: number;
  fds: number;
}

export async function scale(): Promise<Section> {
  const largest = SIZES[SIZES.length - 1] ?? 50;
  // One host more, outside every measured tag: the warm-up runs there.
  const fleet = await startFleet(largest + 1, { subnet: 143 });
  const dir = writeConfig(fleet, {
    hosts: fleet.hosts.map((h, i) => ({ ...h, tags: i < largest ? SIZES.filter((n) => i < n).map((n) => `n${n}`) : ['warm-up'] })),
    policy: BENCH_POLICY,
  });
  const results: SizeResult[] = [];
  let idle = { rssKb: 0, fds: 0 };
  let fdLimit = '';
  let gate: Gate | undefined;
  try {
    // The registry keeps every task of the run: at its default bound (1,000) a fan-out to 1,000
    // hosts would push out the tasks of the one before it, which costs time nobody asked for.
    gate = await startGate(dir, { SSHGATE_LOG_LEVEL: 'warn', SSHGATE_MAX_TASKS: '100000' }, SERVER_NODE_ARGS);
    const pid = gate.transport.pid as number;
    fdLimit =
      readFileSync(`/proc/${pid}/limits`, 'utf8')
        .match(/Max open files\s+(\d+)\s+(\d+)/)
        ?.slice(1)
        .join(' soft, ') ?? '?';
    // A server that has been up a while has run its code before (as in fan-out.ts).
    for (let i = 0; i < 10; i++) {
      await gate.ok('ssh_ping', { alias: fleet.hosts[largest]?.alias });
      await gate.ok('ssh_run_on_tag', { tag: 'warm-up', command: 'true' });
    }
    await emptyPool(gate, pid, 0);
    idle = { rssKb: status(pid, 'VmRSS'), fds: openFds(pid) };

    for (const hosts of SIZES) {
      process.stderr.write(`bench: scale: ${hosts} hosts…\n`);
      const sweep = [...new Set([...SWEEP.filter((c) => c < hosts), Math.min(hosts, Math.max(...SWEEP))])];
      const cold = new Map<number, number[]>(sweep.map((c) => [c, []]));
      const warm = new Map<number, number[]>(sweep.map((c) => [c, []]));
      const cpu: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        for (const c of round % 2 === 0 ? sweep : [...sweep].reverse()) {
          await emptyPool(gate, pid, idle.fds);
          const before = cpuMs(pid);
          cold.get(c)?.push(await fanOutOnce(gate, c, hosts, `n${hosts}`));
          cpu.push((cpuMs(pid) - before) / hosts);
          for (let i = 0; i < 2; i++) warm.get(c)?.push(await fanOutOnce(gate, c, hosts, `n${hosts}`));
        }
      }
      // The last warm run left every host's connection in the pool.
      await new Promise((r) => setTimeout(r, 1000));
      const rssKb = status(pid, 'VmRSS');
      results.push({
        hosts,
        cold: medians(cold),
        warm: medians(warm),
        coldRuns: ROUNDS,
        cpuPerHostMs: median(cpu),
        peakRssMb: status(pid, 'VmHWM') / 1024,
        rssPerConnKb: (rssKb - idle.rssKb) / hosts,
        fds: openFds(pid),
      });
    }
    await emptyPool(gate, pid, idle.fds);
  } finally {
    await gate?.close();
    await fleet.stop();
    removeConfig(dir);
  }

  writeFileSync(SVG, chart(results));
  const best = (m: Map<number, number>) => [...m].reduce((a, b) => (b[1] < a[1] ? b : a));
  const knee = (m: Map<number, number>) => {
    const [, low] = best(m);
    return [...m].find(([, ms]) => ms <= low * (1 + KNEE))?.[0] ?? 0;
  };
  const sweepCols = [...new Set(results.flatMap((r) => [...r.cold.keys()]))].sort((a, b) => a - b);
  const cell = (m: Map<number, number>, c: number) => (m.has(c) ? (m.get(c) as number).toFixed(0) : '—');
  return {
    title: `Scale: fan-out of "true" to 50–${largest} hosts, one server process (${ROUNDS} rounds, medians)`,
    table: [
      '| hosts | cold ms (at concurrency) | warm ms (at concurrency) | cold ms at the default 16 | concurrency past which cold stops improving (±5%) | server CPU per host, cold, ms | peak RSS MB | RSS per pooled connection KB | open fds, pooled |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...results.map((r) => {
        const [cc, cm] = best(r.cold);
        const [wc, wm] = best(r.warm);
        return `| ${r.hosts} | ${cm.toFixed(0)} (${cc}) | ${wm.toFixed(0)} (${wc}) | ${cell(r.cold, 16)} | ${knee(r.cold)} | ${r.cpuPerHostMs.toFixed(2)} | ${r.peakRssMb.toFixed(0)} | ${r.rssPerConnKb.toFixed(0)} | ${r.fds} |`;
      }),
      '',
      `Idle (one warm-up host, pool empty): RSS ${(idle.rssKb / 1024).toFixed(0)} MB, ${idle.fds} fds; the server's fd limit: ${fdLimit} hard.`,
      '',
      ...(['cold', 'warm'] as const).flatMap((kind) => [
        `${kind === 'cold' ? 'Cold' : 'Warm'} fan-out by concurrency, median ms:`,
        '',
        `| hosts | ${sweepCols.map((c) => `c=${c}`).join(' | ')} |`,
        `|---:|${sweepCols.map(() => '---:').join('|')}|`,
        ...results.map((r) => `| ${r.hosts} | ${sweepCols.map((c) => cell(r[kind], c)).join(' | ')} |`),
        '',
      ]),
    ],
    bars: [],
  };
}

/** Retires every pooled connection (a reload does) and waits until their sockets are closed. */
async function emptyPool(gate: Gate, pid: number, idleFds: number): Promise<void> {
  await gate.ok('ssh_reload_config');
  const until = Date.now() + 20_000;
  while (Date.now() < until && idleFds > 0 && openFds(pid) > idleFds) await new Promise((r) => setTimeout(r, 50));
  // The hosts' sshd processes of those connections exit meanwhile, on the same two cores.
  await new Promise((r) => setTimeout(r, 500));
}

/** The process's CPU time so far, user and system, in ms (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** A field of /proc/<pid>/status in kB (VmRSS now, VmHWM the peak). */
function status(pid: number, field: string): number {
  return Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+)`, 'm'))?.[1] ?? NaN);
}

function medians(m: Map<number, number[]>): Map<number, number> {
  return new Map([...m].map(([c, xs]) => [c, median(xs)]));
}

function chart(results: SizeResult[]): string {
  const at = (f: (r: SizeResult) => number): [number, number][] => results.map((r) => [r.hosts, f(r)]);
  const min = (m: Map<number, number>) => Math.min(...m.values());
  const concurrencies = [...new Set(results.flatMap((r) => [...r.cold.keys()]))].sort((a, b) => a - b);
  const bySize: Series[] = results.map((r) => ({
    name: `${r.hosts} hosts`,
    points: concurrencies.map((c): [number, number] => [c, r.cold.get(c) ?? NaN]),
  }));
  return svgChart(
    'sshgate fan-out of "true" to loopback OpenSSH hosts, one server process',
    [
      {
        title: 'Fan-out latency',
        xLabel: 'hosts',
        yLabel: 'ms (median)',
        logX: true,
        series: [
          { name: 'cold, best concurrency', points: at((r) => min(r.cold)) },
          { name: 'cold, concurrency 16', points: at((r) => r.cold.get(16) ?? NaN) },
          { name: 'warm, best concurrency', points: at((r) => min(r.warm)) },
        ],
      },
      { title: 'Cold fan-out by concurrency', xLabel: 'concurrency', yLabel: 'ms (median)', logX: true, series: bySize },
      {
        title: 'Server memory',
        xLabel: 'hosts',
        yLabel: 'MB',
        logX: true,
        series: [
          { name: 'peak RSS', points: at((r) => r.peakRssMb) },
          { name: 'RSS per pooled connection × 100', points: at((r) => (r.rssPerConnKb * 100) / 1024) },
        ],
      },
      {
        title: 'Server file descriptors',
        xLabel: 'hosts',
        yLabel: 'open fds, pool full',
        logX: true,
        series: [{ name: 'open fds', points: at((r) => r.fds) }],
      },
    ],
    2,
  );
}
