/**
 * `npm run bench`: every benchmark in one run, against loopback OpenSSH hosts started here (as
 * root: it creates the test user), printed and written to bench/RESULTS.md with the machine.
 * Figures only; nothing is asserted. BENCH_ONLY=warm,fanout,cancel,stream,start,decide,transfer,registry,http,scale picks some.
 * Each benchmark runs in a process of its own (this script again, with BENCH_SECTION): the clients
 * a benchmark runs in this process would otherwise work in a heap the benchmarks before them grew.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cancelLatency } from './cancel.js';
import { decisionCost } from './decide.js';
import { fanOut } from './fan-out.js';
import { http } from './http.js';
import { registry } from './registry.js';
import { scale } from './scale.js';
import type { Section } from './stats.js';
import { startup } from './startup.js';
import { throughput } from './throughput.js';
import { transfer } from './transfer.js';
import { warmRun } from './warm-run.js';

const all: [string, () => Promise<Section>][] = [
  ['warm', warmRun],
  ['fanout', fanOut],
  ['cancel', cancelLatency],
  ['stream', throughput],
  ['start', startup],
  ['decide', decisionCost],
  ['transfer', transfer],
  ['registry', registry],
  ['http', http],
  ['scale', scale],
];
const section = process.env.BENCH_SECTION;
if (section !== undefined) {
  // A child: one benchmark, its section handed back as JSON.
  const bench = all.find(([name]) => name === section)?.[1];
  if (!bench) throw new Error(`no benchmark ${section}`);
  const s = await bench();
  process.stdout.write(`\n${s.title}\n\n${s.table.join('\n')}\n`);
  writeFileSync(process.env.BENCH_SECTION_OUT as string, JSON.stringify(s));
  process.exit(0);
}

const only = process.env.BENCH_ONLY?.split(',');
const sections: Section[] = [];
const handover = mkdtempSync(join(tmpdir(), 'sshgate-bench-'));
try {
  for (const [name] of all) {
    if (only && !only.includes(name)) continue;
    process.stderr.write(`bench: ${name}…\n`);
    const out = join(handover, `${name}.json`);
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, BENCH_SECTION: name, BENCH_SECTION_OUT: out },
    });
    if (child.status !== 0) throw new Error(`bench: ${name} failed (${child.status ?? child.signal ?? child.error?.message})`);
    sections.push(JSON.parse(readFileSync(out, 'utf8')) as Section);
  }
} finally {
  rmSync(handover, { recursive: true, force: true });
}

const openssh = execFileSync('ssh', ['-V'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim() || 'unknown';
let sshV = openssh;
try {
  sshV = execFileSync('sh', ['-c', 'ssh -V 2>&1'], { encoding: 'utf8' }).trim();
} catch {
  // keep what we have
}
// ssh2's crypto as this Node loads it (npm run build:ssh2-crypto builds the native one); a server
// on BENCH_SERVER_NODE loads it only if it was built for that Node.
const ssh2Crypto = (createRequire(import.meta.url)('ssh2/lib/protocol/crypto.js') as { bindingAvailable: boolean }).bindingAvailable
  ? 'native binding'
  : 'JavaScript (npm run build:ssh2-crypto builds the native one)';
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}; ${sshV}; ssh2 crypto: ${ssh2Crypto}`;
const bars = sections.flatMap((s) => s.bars);
const report = [
  '# sshgate benchmark results',
  '',
  `Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}. Machine: ${machine}.`,
  'All hosts are OpenSSH sshd processes on loopback addresses of this machine; every row of a table was measured in the same run.',
  '',
  '| bar | figure | met |',
  '|---|---:|:---:|',
  ...bars.map((b) => `| ${b.bar} | ${b.figure} | ${b.met ? 'yes' : '**no**'} |`),
  '',
  ...sections.flatMap((s) => [`## ${s.title}`, '', ...s.table, '']),
].join('\n');
process.stderr.write(`bench: ssh2 crypto on Node ${process.version}: ${ssh2Crypto}\n`);
if (!only) writeFileSync(new URL('../../bench/RESULTS.md', import.meta.url), report);
process.stdout.write(`\n${bars.map((b) => `${b.met ? 'met ' : 'MISS'}  ${b.bar}: ${b.figure}`).join('\n')}\n`);
