/** `sshgate policy test [PATH]`: runs the policy's test cases, PASS/FAIL per case. */
import { loadPolicyCases } from '../config/load-cases.js';
import { caseLabel, casePrincipal, runCase } from '../policy/cases.js';
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
    if (!r.decision) {
      io.out(`      ${r.problem}\n`);
      continue;
    }
    const principal = casePrincipal(c);
    const as = `${principal ? ` as ${callerLabel(principal)}` : ''}${c.become !== undefined ? ` become ${c.become}` : ''}`;
    io.out(`      expected ${c.expect}${c.tty ? ' with a terminal' : ''}${as}, got ${r.got}: ${r.reason}\n`);
    const deciding = r.decision.segments.filter((s) => s.allowed === r.decision?.allowed || !r.decision?.allowed);
    for (const s of deciding) {
      if (s.rule) io.out(`      "${s.text}" decided by rule "${s.rule}" at ${s.source}\n`);
    }
  }
  io.out(`policy cases: ${cases.length - failed} passed, ${failed} failed\n`);
  return failed > 0 ? 1 : 0;
}
