/**
 * What a policy change changes for file operations: every file case and every path pattern of
 * either version's `files:` rules, read and written, on every host, for every caller and elevation
 * the rules tell apart, whose verdict — or, allowed in both, whose size cap — differs.
 */
import { changesByCaller, type CallerChange } from './diff-callers.js';
import type { Inventory } from '../config/load-inventory.js';
import type { PolicyCase } from '../config/file-formats.js';
import type { Principal } from '../principal.js';
import { caseFile, decideFileCaseFor } from './cases.js';
import type { PolicyEngine } from './decide.js';
import type { FileAccess, FileDecision } from './decision.js';
import { filePathProblem } from './file-decision.js';

export interface FileDecisionChange {
  alias: string;
  access: FileAccess;
  path: string;
  from: 'allow' | 'deny';
  to: 'allow' | 'deny';
  /** Where the path came from: a test case or a rule's pattern. */
  origin: string;
  /** Allowed before and after with another size cap: `max_file_bytes 1048576→16777216`. */
  bytes?: string;
  /** For calls elevating to this user; absent: for calls that do not. */
  become?: string;
  /** The callers it changes for, when not alike for all (labels as in DecisionChange.as). */
  as?: string[];
  before: FileDecision;
  after: FileDecision;
}

/** A caller the decisions are compared for (diff.ts's callersToCompare). */
interface Caller {
  label: string;
  principal: Principal | undefined;
}

const ACCESSES: readonly FileAccess[] = ['read', 'write'];

/**
 * Concrete paths a path pattern stands for: each `*` as nothing, as one name and as two (it
 * crosses `/`), each `?` as one character; only those written the one way a caller may give.
 */
export function pathSamplesOf(pattern: string): string[] {
  const fill = (star: string) => pattern.replace(/\*/g, star).replace(/\?/g, 'x');
  return [...new Set([fill(''), fill('x'), fill('x/x')])].filter((p) => filePathProblem(p) === undefined);
}

export function diffFileAccesses(
  before: PolicyEngine,
  after: PolicyEngine,
  inventory: Inventory,
  cases: readonly PolicyCase[],
  callers: readonly Caller[],
  becomes: readonly (string | undefined)[],
): FileDecisionChange[] {
  const probes = fileProbes([before, after], inventory, cases);
  const changes: FileDecisionChange[] = [];
  for (const probe of probes) {
    for (const become of becomes) {
      const c = { ...probe.case, ...(become !== undefined ? { become } : {}) };
      changes.push(...changesFor(before, after, inventory, c, callers, probe.origin));
    }
  }
  return changes;
}

/** Every file case, and every sample of every pattern, read and written, on every host. */
function fileProbes(engines: readonly PolicyEngine[], inventory: Inventory, cases: readonly PolicyCase[]) {
  const probes: { case: PolicyCase; origin: string }[] = [];
  const seen = new Set<string>();
  const add = (c: PolicyCase, origin: string) => {
    const key = JSON.stringify([c.alias, c.read, c.write, c.tags]);
    if (seen.has(key)) return;
    seen.add(key);
    probes.push({ case: c, origin });
  };
  for (const c of cases) {
    const file = caseFile(c);
    if (!file) continue;
    const tags = c.tags ? { tags: c.tags } : {};
    add({ alias: c.alias, ...tags, [file.access]: file.path, expect: 'allow' }, `case "${c.name ?? `${file.access} ${file.path}`}"`);
  }
  for (const engine of engines) {
    for (const rule of engine.policy.fileRules) {
      for (const pattern of [...rule.read, ...rule.write]) {
        for (const path of pathSamplesOf(pattern)) {
          for (const host of inventory.hosts) {
            for (const access of ACCESSES)
              add({ alias: host.alias, [access]: path, expect: 'allow' }, `pattern "${pattern}" of rule "${rule.name}"`);
          }
        }
      }
    }
  }
  return probes;
}

/** How one probe's decision changes, one entry per way it changes, naming the callers when not all. */
function changesFor(
  before: PolicyEngine,
  after: PolicyEngine,
  inventory: Inventory,
  c: PolicyCase,
  callers: readonly Caller[],
  origin: string,
): FileDecisionChange[] {
  return changesByCaller(callers, (caller): CallerChange<FileDecisionChange> | undefined => {
    const a = decideFileCaseFor(before, inventory, c, caller.principal);
    const b = decideFileCaseFor(after, inventory, c, caller.principal);
    if (!a || !b) return undefined;
    const bytes =
      a.allowed && b.allowed && a.max_file_bytes !== b.max_file_bytes
        ? `max_file_bytes ${a.max_file_bytes}→${b.max_file_bytes}`
        : undefined;
    if (a.verdict === b.verdict && !bytes) return undefined;
    return {
      key: JSON.stringify([a.verdict, b.verdict, bytes, b.rule?.source]),
      make: (as) => ({
        alias: b.alias,
        access: b.access,
        path: b.path,
        from: a.verdict,
        to: b.verdict,
        origin,
        ...(bytes ? { bytes } : {}),
        ...(c.become !== undefined ? { become: c.become } : {}),
        as,
        before: a,
        after: b,
      }),
    };
  });
}
