/**
 * Review 17 (adversarial): path spelling and the files: policy, without a host. Tests that FAIL
 * demonstrate a problem found in review; tests that pass record what held.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPolicy, type PolicySet } from '../../../src/config/load-policy.js';
import { ConfigError, formatIssue } from '../../../src/errors.js';
import { decideFile, filePathProblem } from '../../../src/policy/file-decision.js';
import { web1, writeTree } from '../../support/policy.js';

function policyOf(yaml: string): PolicySet {
  return loadPolicy(join(writeTree({ 'p.yml': yaml }), 'p.yml'));
}
function problemsOf(files: Record<string, string>): string[] {
  const dir = writeTree(files);
  try {
    loadPolicy(dir);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => formatIssue(i).replace(`${dir}/`, ''));
    throw err;
  }
  return [];
}

describe('findings', () => {
  // A lone surrogate cannot be sent as it is: Buffer.from(path, "utf8") makes it U+FFFD (EF BF BD),
  // so the host acts on another name than the one the policy judged and the audit records.
  it.each([['/srv/app/locked\uD800'], ['/srv/app/\uDC00x'], ['/srv/\uD83D/app']])('refuses %j (a lone surrogate)', (path) => {
    expect(filePathProblem(path)).toBeDefined();
  });

  it('a lone surrogate is judged as another name than the one the host sees', () => {
    const policy = policyOf(`files:
  - { name: app, action: allow, write: ["/srv/app/*"] }
  - { name: locked, action: deny, write: ["/srv/app/locked\\uFFFD"] }
`);
    const sent = Buffer.from('/srv/app/locked\uD800', 'utf8').toString('utf8');
    expect(sent).toBe('/srv/app/locked\uFFFD');
    expect(decideFile(policy, web1, { access: 'write', path: sent }).verdict).toBe('deny');
    expect(decideFile(policy, web1, { access: 'write', path: '/srv/app/locked\uD800' }).verdict).toBe('deny');
  });

  // Line and paragraph separators and bidi controls are refused nowhere: they reach the audit
  // file and `plan` output raw (the reasons escape them), where they can break lines for tools
  // that split on them (Python's splitlines) and reorder what a reviewer sees (Trojan Source).
  it.each([['/srv/app/a\u2028b'], ['/srv/app/a\u2029b'], ['/srv/app/\u202Egnp.exe'], ['/srv/app/\u2066x\u2069']])(
    'refuses %j (a line separator or bidi control)',
    (path) => {
      expect(filePathProblem(path)).toBeDefined();
    },
  );
});

describe('held', () => {
  const policy = policyOf(`limits: { max_file_bytes: 1000 }
files:
  - { name: wide, action: allow, read: ["/srv/*"], write: ["/srv/*"], max_file_bytes: 500 }
  - { name: narrow, action: allow, read: ["/srv/app/*"], max_file_bytes: 100 }
  - { name: big, action: allow, read: ["/srv/app/big"], max_file_bytes: 900 }
  - { name: no keys, action: deny, read: ["/srv/*.key"] }
  - { name: ops only, action: deny, callers: [role:ops], write: ["/srv/ops/*"] }
`);

  it('deny wins whatever the order; a glob in the path is literal', () => {
    expect(decideFile(policy, web1, { access: 'read', path: '/srv/app/x.key' }).verdict).toBe('deny');
    expect(decideFile(policy, web1, { access: 'read', path: '/srv/app/*.key' }).verdict).toBe('deny');
    expect(decideFile(policy, web1, { access: 'write', path: '/srv/app/x.key' }).verdict).toBe('allow');
  });

  it('the smallest cap of every allow rule that matched holds', () => {
    expect(decideFile(policy, web1, { access: 'read', path: '/srv/app/big' }).max_file_bytes).toBe(100);
    expect(decideFile(policy, web1, { access: 'read', path: '/srv/other' }).max_file_bytes).toBe(500);
  });

  it('a deny rule with callers: holds when no principal is known', () => {
    expect(decideFile(policy, web1, { access: 'write', path: '/srv/ops/x' }).verdict).toBe('deny');
  });

  it('look-alikes, full-width solidus, NFD and case are other names, matched by no rule', () => {
    const p = policyOf(
      `files:\n  - { name: a, action: allow, read: ["/srv/app/*"] }\n  - { name: d, action: deny, read: ["/srv/app/café"] }\n`,
    );
    expect(decideFile(p, web1, { access: 'read', path: '/srv/app\uFF0Fx' }).verdict).toBe('deny');
    expect(decideFile(p, web1, { access: 'read', path: '/srv/app/cafe\u0301' }).verdict).toBe('allow'); // another file on Linux
    expect(filePathProblem('/srv/app/x.')).toBeUndefined();
  });

  it('ask, a deny cap, and one name in two files are errors', () => {
    expect(problemsOf({ 'a.yml': 'files:\n  - { action: ask, read: ["/x"] }\n' }).join('\n')).toContain('cannot be approved');
    expect(problemsOf({ 'a.yml': 'files:\n  - { action: deny, read: ["/x"], max_file_bytes: 5 }\n' })).not.toEqual([]);
    expect(
      problemsOf({
        'a.yml': 'files:\n  - { name: same, action: allow, read: ["/x"] }\n',
        'b.yml': 'files:\n  - { name: same, action: allow, read: ["/y"] }\n',
      }).join('\n'),
    ).toContain('duplicate rule name');
  });
});
