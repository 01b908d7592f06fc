/**
 * `sshgate policy diff OLD NEW`: every decision a policy change turns around, for review.
 * Exit status as diff(1): 0 no change, 1 changes, 2 trouble.
 */
import { loadInventory } from '../config/load-inventory.js';
import { loadPolicyCases } from '../config/load-cases.js';
import type { PolicyCase } from '../config/file-formats.js';
import { DEFAULTS } from '../defaults.js';
import { diffPolicies, type DecisionChange } from '../policy/diff.js';
import type { GeneratedReport } from '../policy/diff-generated.js';
import type { FileDecisionChange } from '../policy/file-diff.js';
import { ttyRefusal } from '../policy/host-decision.js';
import { engineFor, reportConfigError, testsDirOf, type Io, type Paths } from './context.js';

export interface DiffOptions {
  /** Commands generated around the changed patterns, in all (0: none), and their seed. */
  generate: number;
  seed: number;
}

export async function policyDiffCommand(
  paths: Paths,
  oldPath: string,
  newPath: string,
  io: Io,
  options: DiffOptions = { generate: DEFAULTS.diffGenerated, seed: DEFAULTS.diffSeed },
): Promise<number> {
  let result;
  try {
    const inventory = loadInventory(paths);
    const before = await engineFor(oldPath);
    const after = await engineFor(newPath);
    const cases: PolicyCase[] = [];
    for (const p of [oldPath, newPath]) {
      const dir = testsDirOf(p);
      if (dir) cases.push(...loadPolicyCases(dir));
    }
    result = diffPolicies(before, after, inventory, cases, { total: options.generate, seed: options.seed });
  } catch (err) {
    if (reportConfigError(io, err)) return 2;
    throw err;
  }
  const { decisions, files, limits, generated } = result;
  const stats = generatedStats(generated);
  if (decisions.length === 0 && files.length === 0 && limits.length === 0 && generated.changes.length === 0) {
    io.out(`${stats}no change\n`);
    return 0;
  }
  for (const d of decisions)
    io.out(
      `${who(d)}${d.from}→${d.to}${d.tty ? ' with a terminal' : ''}${terms(d)}  ${d.alias}  ${JSON.stringify(d.command)}  (${d.origin}; now: ${by(d)})\n`,
    );
  for (const f of files) io.out(fileChangeLine(f));
  for (const l of limits) io.out(`limit  ${l.alias}  ${l.limit} ${l.from}→${l.to}\n`);
  io.out(stats);
  for (const g of generated.changes) {
    const mark = g.widened ? 'WIDENED ' : 'narrowed';
    io.out(
      `${mark}  ${who(g)}${g.from}→${g.to}${g.tty ? ' with a terminal' : ''}${terms(g)}  ${g.hosts.join(', ')}  ${JSON.stringify(g.command)}  (${g.origin}; now: ${by(g)})\n`,
    );
  }
  const count = (n: number, what: string) => `${n} ${what} change${n === 1 ? '' : 's'}`;
  const fileCount = files.length > 0 ? `${count(files.length, 'file decision')}, ` : '';
  const widened = generated.changes.filter((g) => g.widened).length;
  const generatedCount =
    generated.changes.length > 0 ? `, ${count(generated.changes.length, 'generated command')} (${widened} widened)` : '';
  io.out(`${count(decisions.length, 'decision')}, ${fileCount}${count(limits.length, 'limit')}${generatedCount}\n`);
  return 1;
}

/** `generated: 128 commands around 2 changed patterns (up to 64 each of 512, seed 1), judged in 1,536 decisions: 3 decision changes, listed below`, or nothing. */
function generatedStats(g: GeneratedReport): string {
  if (g.total === 0 || g.patterns === 0) return '';
  const n = (x: number) => x.toLocaleString('en-US');
  const k = g.changes.length;
  const changed = k === 0 ? 'no decision changes' : `${n(k)} decision change${k === 1 ? '' : 's'}, listed below`;
  return `generated: ${n(g.commands)} commands around ${n(g.patterns)} changed pattern${g.patterns === 1 ? '' : 's'} (up to ${n(g.perPattern)} each of ${n(g.total)}, seed ${g.seed}), judged in ${n(g.decisions)} decisions: ${changed}\n`;
}

/** `as alice become root: `, or nothing. */
function who(d: DecisionChange): string {
  const w = [d.as ? `as ${d.as.join(', ')}` : '', d.become !== undefined ? `become ${d.become}` : ''].filter(Boolean).join(' ');
  return w ? `${w}: ` : '';
}

function terms(d: DecisionChange): string {
  return d.approval ? ` (${d.approval})` : '';
}

/** What decides it now: the allow rules, or why it is not allowed (with a terminal). */
function by(d: DecisionChange): string {
  if (d.to === 'allow' && !d.tty)
    return d.after.segments
      .map((s) => s.rule)
      .filter(Boolean)
      .join(', ');
  return d.tty ? (ttyRefusal(d.after) ?? 'allowed with a terminal') : d.after.reason;
}

/** `as alice: deny→allow  web1  write /etc/x  (pattern "/etc/*" of rule "etc"; now: allowed by …)`. */
function fileChangeLine(f: FileDecisionChange): string {
  const who = [f.as ? `as ${f.as.join(', ')}` : '', f.become !== undefined ? `become ${f.become}` : ''].filter(Boolean).join(' ');
  const bytes = f.bytes ? ` (${f.bytes})` : '';
  return `${who ? `${who}: ` : ''}${f.from}→${f.to}${bytes}  ${f.alias}  ${f.access} ${JSON.stringify(f.path)}  (${f.origin}; now: ${f.after.reason})\n`;
}
