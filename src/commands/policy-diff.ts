/**
 * `sshgate policy diff OLD NEW`: every decision a policy change turns around, for review.
 * Exit status as diff(1): 0 no change, 1 changes, 2 trouble.
 */
import { loadInventory } from '../config/load-inventory.js';
import { loadPolicyCases } from '../config/load-cases.js';
import type { PolicyCase } from '../config/file-formats.js';
import { diffPolicies } from '../policy/diff.js';
import type { FileDecisionChange } from '../policy/file-diff.js';
import { ttyRefusal } from '../policy/host-decision.js';
import { engineFor, reportConfigError, testsDirOf, type Io, type Paths } from './context.js';

export async function policyDiffCommand(paths: Paths, oldPath: string, newPath: string, io: Io): Promise<number> {
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
    result = diffPolicies(before, after, inventory, cases);
  } catch (err) {
    if (reportConfigError(io, err)) return 2;
    throw err;
  }
  const { decisions, files, limits } = result;
  if (decisions.length === 0 && files.length === 0 && limits.length === 0) {
    io.out('no change\n');
    return 0;
  }
  for (const d of decisions) {
    const by =
      d.to === 'allow' && !d.tty
        ? d.after.segments
            .map((s) => s.rule)
            .filter(Boolean)
            .join(', ')
        : d.tty
          ? (ttyRefusal(d.after) ?? 'allowed with a terminal')
          : d.after.reason;
    const who = [d.as ? `as ${d.as.join(', ')}` : '', d.become !== undefined ? `become ${d.become}` : ''].filter(Boolean).join(' ');
    const as = who ? `${who}: ` : '';
    io.out(
      `${as}${d.from}→${d.to}${d.tty ? ' with a terminal' : ''}${d.approval ? ` (${d.approval})` : ''}  ${d.alias}  ${JSON.stringify(d.command)}  (${d.origin}; now: ${by})\n`,
    );
  }
  for (const f of files) io.out(fileChangeLine(f));
  for (const l of limits) io.out(`limit  ${l.alias}  ${l.limit} ${l.from}→${l.to}\n`);
  const count = (n: number, what: string) => `${n} ${what} change${n === 1 ? '' : 's'}`;
  const fileCount = files.length > 0 ? `${count(files.length, 'file decision')}, ` : '';
  io.out(`${count(decisions.length, 'decision')}, ${fileCount}${count(limits.length, 'limit')}\n`);
  return 1;
}

/** `as alice: deny→allow  web1  write /etc/x  (pattern "/etc/*" of rule "etc"; now: allowed by …)`. */
function fileChangeLine(f: FileDecisionChange): string {
  const who = [f.as ? `as ${f.as.join(', ')}` : '', f.become !== undefined ? `become ${f.become}` : ''].filter(Boolean).join(' ');
  const bytes = f.bytes ? ` (${f.bytes})` : '';
  return `${who ? `${who}: ` : ''}${f.from}→${f.to}${bytes}  ${f.alias}  ${f.access} ${JSON.stringify(f.path)}  (${f.origin}; now: ${f.after.reason})\n`;
}
