/**
 * Decision cost: how long `decide` takes for ordinary commands (the example policy's test cases),
 * for the differential fuzzer's lines, and for inputs built to be slow (up to the 16 KiB limit). The reference is the decision of `uptime`
 * measured in the same run, so the ratios hold across machines.
 */
import { readFileSync } from 'node:fs';
import { shellParser } from '../src/commands/context.js';
import { loadPolicy } from '../src/config/load-policy.js';
import { createPolicyEngine } from '../src/policy/decide.js';
import { generateLine } from '../test/fuzz/generate.js';
import { median, type Section } from './stats.js';

/** The differential fuzzer's lines decided per run, against its most permissive policy. */
const FUZZ_LINES = Number(process.env.BENCH_FUZZ_LINES ?? 5000);

/** Passes over every input before timing, and the seed-2 fuzzer lines (a fifth of FUZZ_LINES) before the seed-1 ones. */
const WARM_PASSES = 3;

const LIMIT = 16 * 1024;
const repeat = (head: string, arg: string, sep = ' ') => (head + (sep + arg).repeat(LIMIT)).slice(0, LIMIT);
const joined = (part: string, sep: string) =>
  Array.from({ length: LIMIT }, () => part)
    .join(sep)
    .slice(0, LIMIT);

/** Inputs built to be slow: wrappers with wildcard arguments, option abbreviations, nesting, long words. */
export const ADVERSARIAL: Record<string, string> = {
  'four wrappers, ? arguments': Array.from({ length: 4 }, () => repeat('timeout', '?').slice(0, LIMIT / 4 - 2)).join('; '),
  'sudo, wildcard words': repeat('sudo', 'a?'),
  'find, /* arguments': repeat('find', '/*'),
  'one long wildcard word': `ls ${'?'.repeat(LIMIT - 3)}`,
  'short wildcard words': repeat('ls', '/e?c/s?a*'),
  'option abbreviations': repeat('journalctl', '--r'),
  'bundled short options': repeat('systemctl', '-qHM'),
  'many segments': joined('ls -l', ';'),
  'pipeline of wrappers': joined('sudo ls', '|'),
  'nested sh -c': `sh -c ${'\'sh -c "sh -c uptime"\''.padEnd(40)}`,
  'deep substitutions': `${'$('.repeat(2000)}uptime${')'.repeat(2000)}`,
  'long quoted word': `grep '${'x'.repeat(LIMIT - 10)}'`,
  'long heredoc': `cat <<'EOF'\n${'line\n'.repeat((LIMIT - 30) / 5)}EOF`,
  'unbalanced quotes': `echo ${"'a".repeat(LIMIT / 2 - 3)}`,
  'unreadable <> runs': repeat('x', '<>', ''),
  'unreadable <&> runs': `x ${'<&>'.repeat(LIMIT / 3 - 1)}`,
  'unreadable > runs': `x ${'>'.repeat(LIMIT - 3)}`,
  'unreadable <> runs the grammar still reads': `x ${'<>'.repeat(126)}`,
  'sudo and 90 wildcard words': `sudo ${Array(90).fill('.ssh?').join(' ')}`,
  'case terminators': joined(';;', ' '),
  'open parentheses': `${'('.repeat(LIMIT / 2)}uptime`,
};

function ordinary(): string[] {
  const cases = readFileSync('policies/tests/default.yml', 'utf8').match(/command: "((?:[^"\\]|\\.)*)"/g) ?? [];
  return cases.map((c) => JSON.parse(c.slice('command: '.length)) as string);
}

function timeOne(run: () => unknown): number {
  const t0 = performance.now();
  run();
  return performance.now() - t0;
}

export async function decisionCost(): Promise<Section> {
  // The engine's own time: it remembers no decision (a server remembers its last 1,024, so what
  // is timed here is a command it has not decided before).
  const engine = createPolicyEngine(loadPolicy('policies/default.yml'), await shellParser(), { remember: 0 });
  const host = { alias: 'web1', tags: ['web', 'prod'] };
  // Trailing spaces vary the text as a stream of new commands would (the engine keeps its last 256 parses).
  let n = 0;
  const decide = (cmd: string) => timeOne(() => engine.decide(host, `${cmd}${' '.repeat(n++ % 7)}`));
  // Warm the JIT as a server that has been deciding for a while has it: the figures are of the
  // engine's code optimised, not of V8 compiling it (which the first few calls of each path pay).
  for (let i = 0; i < 200; i++) decide('uptime');
  for (let pass = 0; pass < WARM_PASSES; pass++)
    for (const c of [...ordinary(), ...Object.values(ADVERSARIAL)]) decide(c.slice(0, LIMIT - 8));
  const reference = median(Array.from({ length: 500 }, () => decide('uptime')));
  const typical = ordinary().flatMap((c) => Array.from({ length: 20 }, () => decide(c)));
  typical.sort((a, b) => a - b);
  const p99 = typical[Math.floor(typical.length * 0.99)] as number;
  const rows = Object.entries(ADVERSARIAL).map(([name, cmd]) => {
    const ms = Array.from({ length: 5 }, () => decide(cmd.slice(0, LIMIT - 8)));
    return { name, bytes: Buffer.byteLength(cmd), max: Math.max(...ms), med: median(ms) };
  });
  // The fuzzer's lines: what an attacker writes, decided under the policy that allows the most
  // (so that the engine reads every line to its end instead of stopping at a deny).
  const fuzzEngine = createPolicyEngine(loadPolicy('test/fuzz/policies/star.yml'), await shellParser(), { remember: 0 });
  for (let i = 0; i < FUZZ_LINES / 5; i++) fuzzEngine.decide(host, generateLine(2, i).line.slice(0, LIMIT));
  const fuzz = Array.from({ length: FUZZ_LINES }, (_, i) => {
    const line = generateLine(1, i).line.slice(0, LIMIT);
    return timeOne(() => fuzzEngine.decide(host, line));
  }).sort((a, b) => a - b);
  const fuzzP99 = fuzz[Math.floor(fuzz.length * 0.99)] as number;
  const fuzzMax = fuzz[fuzz.length - 1] as number;
  const worst = Math.max(fuzzMax, ...rows.map((r) => r.max));
  return {
    title: `Policy decision cost (example policy, no decision remembered; reference: deciding "uptime", ${reference.toFixed(3)} ms)`,
    table: [
      '| input | bytes | median ms | max ms | max × reference |',
      '|---|---:|---:|---:|---:|',
      `| ${typical.length / 20} ordinary commands ×20, p99 | — | ${median(typical).toFixed(3)} | ${p99.toFixed(3)} | ${(p99 / reference).toFixed(0)} |`,
      `| ${fuzz.length} fuzzer lines (seed 1, star.yml): p99 ${fuzzP99.toFixed(2)} ms | — | ${median(fuzz).toFixed(3)} | ${fuzzMax.toFixed(2)} | ${(fuzzMax / reference).toFixed(0)} |`,
      ...rows.map((r) => `| ${r.name} | ${r.bytes} | ${r.med.toFixed(2)} | ${r.max.toFixed(2)} | ${(r.max / reference).toFixed(0)} |`),
    ],
    bars: [
      { bar: 'ordinary decision p99 ≤ 5 ms', met: p99 <= 5, figure: `${p99.toFixed(2)} ms` },
      { bar: 'fuzzer line decision p99 ≤ 5 ms', met: fuzzP99 <= 5, figure: `${fuzzP99.toFixed(2)} ms` },
      { bar: 'any decision ≤ 50 ms', met: worst <= 50, figure: `${worst.toFixed(1)} ms` },
    ],
  };
}
