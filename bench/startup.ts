/**
 * Server start to the first tools/list answer: spawn, MCP initialize, tools/list. Once fresh, once
 * with the journal of a server that ran 10,000 tasks before it died (three still running), once
 * with a 10,000-task journal as sshgate wrote them before journals were bounded; the peer
 * (bench/peer.ts) started the same way on the same host; and, with BENCH_SERVER_NODE, sshgate
 * fresh on that Node (the Docker image's, say) from a startup snapshot built as the image builds
 * its own (src/snapshot.ts: the image's start), and with its compile cache warm (an npm install's
 * start on that Node). On each Node, the
 * floor: start-floor.ts, a server that loads nothing and answers the same two requests. The timed
 * span ends at the tools/list answer; the exit after the client closes stdin is a column of its
 * own (until 2026-12-05 it was counted in the start: sshgate, which loads what calls need once its
 * list has gone out and then shuts down in order, was charged ~70 ms of stopping).
 */
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { Client } from '@modelcontextprotocol/client';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULTS } from '../src/defaults.js';
import { TaskJournal } from '../src/tasks/journal.js';
import { TaskManager } from '../src/tasks/task-manager.js';
import { removeConfig, serveArgs, writeConfig } from '../test/support/mcp.js';
import { buildImageBlob } from '../test/support/snapshot-blob.js';
import { startFleet } from '../test/support/sshd.js';
import { PEER, peerArgs, peerEntry } from './peer.js';
import { BENCH_POLICY, median, p90, SERVER_NODE, SERVER_NODE_ARGS, type Section } from './stats.js';

const ROUNDS = Number(process.env.BENCH_START_ROUNDS ?? 10);
const TASKS = 10_000;
/** Above Linux's largest pid: the journal's server is surely gone. */
const DEAD_PID = 2 ** 22 + 1;

/** What a case's figure is for in the bars. */
type Role = 'fresh' | 'busy' | 'old' | 'peer' | 'floor' | 'image' | 'image-cache' | 'image-floor';

/** One way of starting a server, measured in every round. */
interface Case {
  role: Role;
  server: string;
  journal: string;
  /** The state dir's contents to start from; none: an empty one. */
  state?: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
}

export async function startup(): Promise<Section> {
  const fleet = await startFleet(1, { subnet: 94 });
  const dir = writeConfig(fleet, { hosts: fleet.hosts, policy: BENCH_POLICY });
  const journals = mkdtempSync(join(tmpdir(), 'sshgate-bench-journals-'));
  const peerHome = mkdtempSync(join(tmpdir(), 'sshgate-bench-peer-'));
  const serve = [...serveArgs(dir), '--log-level', 'warn'];
  const sshgate = { command: process.execPath, args: [...SERVER_NODE_ARGS, ...serve] };
  const fresh = 'none (fresh)';
  const cases: Case[] = [
    { role: 'fresh', server: 'sshgate', journal: fresh, ...sshgate },
    {
      role: 'busy',
      server: 'sshgate',
      journal: `a server's after ${TASKS.toLocaleString('en')} tasks`,
      state: await busyJournal(join(journals, 'busy')),
      ...sshgate,
    },
    {
      role: 'old',
      server: 'sshgate',
      journal: `${TASKS.toLocaleString('en')} tasks, unbounded (as before)`,
      state: oldJournal(join(journals, 'old')),
      ...sshgate,
    },
    {
      role: 'peer',
      server: `${PEER.name} ${PEER.version} (npm)`,
      journal: '—',
      command: process.execPath,
      args: [peerEntry(), ...peerArgs(fleet.hosts[0] as { host: string; port: number }, fleet.user, fleet.userKeyPath)],
      // Its own config dir is looked for under HOME: an empty one, so that only the arguments count.
      env: { HOME: peerHome },
    },
  ];
  const floor = fileURLToPath(new URL('./start-floor.js', import.meta.url));
  const floorOf = (role: Role, node: string, version: string): Case => ({
    role,
    server: `the floor on Node ${version.slice(1)}: start-floor.ts, nothing loaded`,
    journal: '—',
    command: node,
    args: [floor],
  });
  cases.push(floorOf('floor', process.execPath, process.version));
  if (SERVER_NODE) {
    // Node's own variable, in a directory of the run's: the first (untimed) start fills it.
    const cache = join(journals, 'compile-cache');
    const version = execFileSync(SERVER_NODE, ['--version'], { encoding: 'utf8' }).trim();
    cases.push(
      {
        role: 'image',
        server: `sshgate on Node ${version.slice(1)} (BENCH_SERVER_NODE), from its startup snapshot, as the image starts`,
        journal: fresh,
        command: SERVER_NODE,
        // As the image: no compile cache (docs/architecture.md, "Start").
        args: [...buildImageBlob(SERVER_NODE, journals), '--', ...serve.slice(1)],
      },
      {
        role: 'image-cache',
        server: `sshgate on Node ${version.slice(1)} (BENCH_SERVER_NODE), compile cache warm`,
        journal: fresh,
        command: SERVER_NODE,
        args: [...SERVER_NODE_ARGS, ...serve],
        env: { NODE_COMPILE_CACHE: cache },
      },
      floorOf('image-floor', SERVER_NODE, version),
    );
  }
  const ms: number[][] = cases.map(() => []);
  /** Per case: stdin closed → the process gone, which the start figure leaves out. */
  const exits: number[][] = cases.map(() => []);
  const state = join(dir, 'state');
  /** Spawn to the tools/list answer, and the exit after stdin closes, apart (ms). */
  const start = async (c: Case): Promise<{ took: number; exit: number }> => {
    // Each start claims and rewrites the journal it finds: every round gets the same one.
    rmSync(state, { recursive: true, force: true });
    if (c.state) cpSync(c.state, state, { recursive: true });
    const client = new Client({ name: 'bench', version: '1' });
    const t0 = performance.now();
    await client.connect(
      new StdioClientTransport({
        command: c.command,
        args: c.args,
        env: { PATH: process.env.PATH ?? '', SSHGATE_STATE_DIR: state, ...c.env },
        // The peer says on stderr that it started and stopped: not for the report.
        stderr: 'ignore',
      }),
    );
    await client.listTools();
    const took = performance.now() - t0;
    // close() ends stdin and waits for the server to exit: how long it takes to stop is not its start.
    await client.close();
    return { took, exit: performance.now() - t0 - took };
  };
  try {
    // The compile cache's first (untimed) fill; the snapshot's start reads it too, for what it loads from files.
    const cached = cases.find((c) => c.role === 'image-cache');
    if (cached) await start(cached);
    // Round by round, each case in turn: whatever else loads the machine weighs on all alike.
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, c] of cases.entries()) {
        const { took, exit } = await start(c);
        (ms[i] as number[]).push(took);
        (exits[i] as number[]).push(exit);
      }
    }
  } finally {
    await fleet.stop();
    removeConfig(dir);
    rmSync(journals, { recursive: true, force: true });
    rmSync(peerHome, { recursive: true, force: true });
  }
  const med = ms.map(median);
  const of = (role: Role) => {
    const i = cases.findIndex((c) => c.role === role);
    return i < 0 ? undefined : med[i];
  };
  const [ours, busy, peer, ownFloor] = (['fresh', 'busy', 'peer', 'floor'] as const).map((r) => of(r) as number) as [
    number,
    number,
    number,
    number,
  ];
  const [image, imageFloor] = [of('image'), of('image-floor')];
  return {
    title: `Server start to the first tools/list answer (N=${ROUNDS}, alternated)`,
    table: [
      '| server | task journal | runs | median ms | p90 ms | beyond its Node’s floor | then stdin closed → exited, median ms |',
      '|---|---|---:|---:|---:|---:|---:|',
      ...cases.map((c, i) => {
        const m = med[i] as number;
        const floorMs =
          c.role === 'floor' || c.role === 'image-floor'
            ? undefined
            : c.role === 'image' || c.role === 'image-cache'
              ? imageFloor
              : ownFloor;
        const beyond = floorMs === undefined ? '—' : `+${(m - floorMs).toFixed(0)} ms`;
        return `| ${c.server} | ${c.journal} | ${(ms[i] as number[]).length} | ${m.toFixed(0)} | ${p90(ms[i] as number[]).toFixed(0)} | ${beyond} | ${median(exits[i] as number[]).toFixed(0)} |`;
      }),
    ],
    bars: [
      { bar: 'start < 500 ms', met: ours < 500, figure: `${ours.toFixed(0)} ms (the floor ${ownFloor.toFixed(0)} ms)` },
      {
        bar: `start ≤ 0.8× the peer's (${PEER.name} ${PEER.version})`,
        met: ours <= 0.8 * peer,
        figure: `${ours.toFixed(0)} vs ${peer.toFixed(0)} ms (${(ours / peer).toFixed(2)}×)`,
      },
      ...(image !== undefined
        ? [
            {
              bar: 'start < 150 ms on BENCH_SERVER_NODE, as the image starts (its startup snapshot)',
              met: image < 150,
              figure: `${image.toFixed(0)} ms (that Node's floor ${imageFloor?.toFixed(0) ?? '—'} ms)`,
            },
          ]
        : []),
      {
        bar: `start after ${TASKS.toLocaleString('en')} tasks within 1.5× a fresh start`,
        met: busy <= 1.5 * ours,
        figure: `${busy.toFixed(0)} ms (${(busy / ours).toFixed(2)}×)`,
      },
    ],
  };
}

/** The state dir a server leaves after TASKS quick tasks, three more still running when it dies. */
async function busyJournal(state: string): Promise<string> {
  mkdirSync(state, { mode: 0o700 });
  const journal = new TaskJournal(state, DEAD_PID, () => false);
  const tasks = new TaskManager({
    onChange: (t) => journal.record(t),
    onEnd: (t) => journal.record(t),
    onForget: (t) => journal.forget(t.id),
  });
  const quick = () => Promise.resolve({ exitCode: 0, signal: null });
  for (let i = 0; i < TASKS; i++) await tasks.start(`h${i % 7}`, `echo ${i}`, DEFAULTS.limits, quick).done;
  const running = [1, 2, 3].map((i) =>
    tasks.start(
      'h1',
      `sleep ${i}`,
      DEFAULTS.limits,
      ({ signal }) => new Promise((r) => signal.addEventListener('abort', () => r({ exitCode: null, signal: 'TERM' }))),
    ),
  );
  // Copied before the shutdown records the three as cancelled: they were running when it "died".
  const copy = `${state}-copy`;
  cpSync(state, copy, { recursive: true });
  await tasks.shutdown();
  await Promise.all(running.map((t) => t.done));
  return copy;
}

/** Three lines a task, every task kept: what a busy server left before the journal was bounded. */
function oldJournal(state: string): string {
  mkdirSync(state, { mode: 0o700 });
  const now = Date.now();
  const lines: string[] = [];
  for (let i = 0; i < TASKS; i++) {
    const base = {
      id: `h${i % 7}:${i.toString(16).padStart(12, '0')}:${now * 1000 + i}`,
      alias: `h${i % 7}`,
      command: `echo ${i}`,
      created_at: now - 1000,
      exit_code: null,
      signal: null,
      limits: DEFAULTS.limits,
      server_pid: DEAD_PID,
    };
    lines.push(
      JSON.stringify({ ...base, state: 'queued' }),
      JSON.stringify({ ...base, state: 'running', started_at: now - 900 }),
      JSON.stringify({ ...base, state: 'succeeded', started_at: now - 900, ended_at: now - 800, exit_code: 0 }),
    );
  }
  writeFileSync(join(state, `tasks.${DEAD_PID}.jsonl`), `${lines.join('\n')}\n`, { mode: 0o600 });
  return state;
}
