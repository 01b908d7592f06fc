/** `sshgate policy test [PATH]`: runs the policy's test cases, PASS/FAIL per case. */
import { loadPolicyCases } from '../config/load-cases.js';
import { caseLabel, casePrincipal, runCase, type CaseResult } from '../policy/cases.js';
import { callerLabel } from '../policy/decision.js';
import { loadAll, reportConfigError, type Io, type Paths } from './context.js';

export async function policyTestCommand(paths: Paths, casesPath: string, io: Io): Promise<number> {
  let loaded;
  let cases;
  try {
    loaded = await loadAll(paths);
    cases = loadPolicyCases(casesPath);
  } catch (err) {
    if (reportConfigError(io, err)) return 2;
    throw err;
  }
  if (cases.length === 0) {
    io.err(`no test cases in ${casesPath}\n`);
    return 2;
  }
  let failed = 0;
  for (const c of cases) {
    const r = runCase(loaded.engine, loaded.inventory, c);
    if (r.passed) {
      io.out(`PASS  ${caseLabel(c)}\n`);
      continue;
    }
    failed++;
    io.out(`FAIL  ${caseLabel(c)}  (${c.source})\n`);
    if (r.problem !== undefined) {
      io.out(`      ${r.problem}\n`);
      continue;
    }
    const principal = casePrincipal(c);
    const as = `${principal ? ` as ${callerLabel(principal)}` : ''}${c.become !== undefined ? ` become ${c.become}` : ''}`;
    io.out(`      expected ${c.expect}${c.tty ? ' with a terminal' : ''}${as}, got ${r.got}: ${r.reason}\n`);
    for (const line of decidedBy(r)) io.out(`      ${line}\n`);
  }
  io.out(`policy cases: ${cases.length - failed} passed, ${failed} failed\n`);
  return failed > 0 ? 1 : 0;
}

/** The rules that decided a failed case, each with its file:line:column. */
function decidedBy(r: CaseResult): string[] {
  if (r.fileDecision) {
    const f = r.fileDecision;
    return f.rule ? [`${f.access} ${JSON.stringify(f.path)} decided by rule "${f.rule.name}" at ${f.rule.source}`] : [];
  }
  const d = r.decision;
  if (!d) return [];
  const deciding = d.segments.filter((s) => s.allowed === d.allowed || !d.allowed);
  return deciding.flatMap((s) => (s.rule ? [`"${s.text}" decided by rule "${s.rule}" at ${s.source}`] : []));
}
