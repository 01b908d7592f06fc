/**
 * `npm run fuzz -- --lines N --seed S [--shell bash|sh|both] [--policy FILE]... [--out hits.jsonl]
 *  [--exec auto|plain|pinned] [--login-shell PATH] [--workers N] [--engine-workers N]
 *  [--timeout-ms MS] [--start I] [--minimise K] [--record]`
 * `npm run fuzz -- --promote`
 *
 * Progress goes to stderr once a second; the summary to stdout at the end; every hit, as one JSON
 * object a line, to --out; with --record, new hits join the regression table as known-open.
 * Exits 1 when any line the engine allowed created a file, 2 on a usage error. --promote only
 * moves the known-open regressions the engine now denies to must-deny.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { CLASSES } from './classify.js';
import { defaultPolicyPaths, loadFuzzPolicy, SHELLS, type Shell } from './engine.js';
import { fuzz, type Hit, type Progress, type Summary } from './fuzz.js';
import { minimiseHits } from './minimise.js';
import { promote, record, tablePath } from './regressions.js';
import { executorFor, startPool, type ExecMode } from './sandbox.js';

const USAGE =
  'usage: npm run fuzz -- --lines N --seed S [--shell bash|sh|both] [--policy FILE]... [--out hits.jsonl]\n' +
  '         [--exec auto|plain|pinned] [--login-shell PATH] [--workers N] [--engine-workers N] [--timeout-ms MS]\n' +
  '         [--start I] [--minimise K] [--record]\n' +
  '       npm run fuzz -- --promote';

function usage(message: string): never {
  process.stderr.write(`fuzz: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function count(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) usage(`--${name} takes a whole number of at least ${min}, not "${value}"`);
  return n;
}

let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      lines: { type: 'string' },
      seed: { type: 'string' },
      start: { type: 'string' },
      shell: { type: 'string' },
      policy: { type: 'string', multiple: true },
      out: { type: 'string' },
      exec: { type: 'string' },
      'login-shell': { type: 'string' },
      workers: { type: 'string' },
      'engine-workers': { type: 'string' },
      'timeout-ms': { type: 'string' },
      minimise: { type: 'string' },
      record: { type: 'boolean' },
      promote: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  }).values;
}
try {
  args = parse();
} catch (err) {
  usage((err as Error).message);
}
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const lines = count(args.lines, 'lines', 10_000, 1);
const seed = count(args.seed, 'seed', 1);
const start = count(args.start, 'start', 0);
const workers = count(args.workers, 'workers', 2 * availableParallelism(), 1);
const engineWorkers = count(args['engine-workers'], 'engine-workers', availableParallelism());
const timeoutMs = count(args['timeout-ms'], 'timeout-ms', 2000, 10);
const minimiseK = count(args.minimise, 'minimise', 0);
const shellArg = args.shell ?? 'both';
if (!['bash', 'sh', 'both'].includes(shellArg)) usage(`--shell is bash, sh or both, not "${shellArg}"`);
const shells: Shell[] = shellArg === 'both' ? [...SHELLS] : [shellArg as Shell];
const execArg = args.exec ?? 'auto';
if (!['auto', 'plain', 'pinned'].includes(execArg)) usage(`--exec is auto, plain or pinned, not "${execArg}"`);

const policies = await Promise.all((args.policy ?? defaultPolicyPaths()).map(loadFuzzPolicy));
if (args.promote) {
  const { promoted, open } = promote(policies);
  process.stdout.write(`${tablePath()}: ${promoted} known-open lines moved to must-deny; ${open} still allowed\n`);
  process.exit(0);
}
const executor = await executorFor(execArg as ExecMode | 'auto', args['login-shell'] ?? '/bin/sh');
const pool = await startPool({ size: workers, timeoutMs });
const out: WriteStream | undefined = args.out ? createWriteStream(args.out) : undefined;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const report = (p: Progress) =>
  process.stderr.write(
    `fuzz: ${fmt(p.lines)} lines in ${p.seconds.toFixed(0)} s (${fmt(p.linesPerSecond)}/s; engine alone ${fmt(p.engineLinesPerSecond)}/s), ` +
      `${fmt(p.allowed)} allowed, ${fmt(p.executed)} executed (${fmt(p.executionsPerSecond)}/s), ${fmt(p.hits)} hits\n`,
  );

process.stderr.write(
  `fuzz: ${fmt(lines)} lines from seed ${seed}${start ? ` index ${start}` : ''}; shells ${shells.join(', ')}; ` +
    `policies ${policies.map((p) => p.name).join(', ')}; exec ${executor.mode}; ${workers} sandboxes, ${engineWorkers} engine threads\n`,
);
let summary: Summary;
try {
  summary = await fuzz({
    lines,
    seed,
    start,
    shells,
    policies,
    pool,
    executor,
    inFlight: workers * 8,
    engineWorkers,
    onProgress: report,
    onHit: (h: Hit) => out?.write(`${JSON.stringify(h)}\n`),
  });
} finally {
  await pool.close();
}
report(summary);
await new Promise<void>((resolve) => (out ? out.end(resolve) : resolve()));

const lines_: string[] = [];
const say = (s = '') => lines_.push(s);
say(`seed ${summary.seed}, lines ${fmt(summary.start)}…${fmt(summary.start + summary.lines - 1)}, exec ${summary.exec}`);
say(
  `throughput: ${fmt(summary.linesPerSecond)} lines/s overall, engine alone ${fmt(summary.engineLinesPerSecond)} lines/s (each line judged by ${summary.policies.length} policies × ${summary.shells.length} shells)`,
);
say(
  `executed: ${fmt(summary.executed)} distinct (shell, line) pairs, ${fmt(summary.executionsPerSecond)}/s; ${fmt(summary.timedOut)} hit the time limit`,
);
say(
  `allowed: ${Object.entries(summary.allowedBy)
    .map(([k, v]) => `${k} ${fmt(v)}`)
    .join(', ')}`,
);
say(
  `hits: ${fmt(summary.hits)} (${
    Object.entries(summary.hitsByShell)
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join(', ') || 'none'
  })`,
);
if (summary.hits > 0) {
  say();
  say('hits by class (shortest example):');
  const names = [...CLASSES.map((c) => c.name), 'other'];
  for (const name of names) {
    const n = summary.hitsByClass[name];
    if (!n) continue;
    const example = summary.hitList.filter((h) => h.class === name).sort((a, b) => a.line.length - b.line.length)[0] as Hit;
    say(`  ${name.padEnd(30)} ${String(n).padStart(6)}  ${example.shell.padEnd(4)} ${JSON.stringify(example.line)}`);
  }
  say();
  say(
    `hits by template: ${Object.entries(summary.hitsByTemplate)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join(', ')}`,
  );
}
process.stdout.write(`${lines_.join('\n')}\n`);
if (args.record) process.stdout.write(`${tablePath()}: ${record(summary.hitList)} new known-open lines\n`);

if (minimiseK > 0 && summary.hits > 0) {
  process.stderr.write(`fuzz: minimising up to ${minimiseK} hits per class…\n`);
  const pool2 = await startPool({ size: workers, timeoutMs });
  try {
    const minimal = await minimiseHits(summary.hitList, minimiseK, { pool: pool2, executor, policies });
    process.stdout.write('\nminimal hits (class, shell, policy, seed:index, line):\n');
    for (const m of minimal) {
      process.stdout.write(
        `  ${m.class.padEnd(30)} ${m.shell.padEnd(4)} ${m.policy.padEnd(6)} ${m.seed}:${m.index}  ${JSON.stringify(m.line)}\n`,
      );
    }
  } finally {
    await pool2.close();
  }
}
process.exit(summary.hits > 0 ? 1 : 0);
