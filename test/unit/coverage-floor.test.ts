import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import config from '../../vitest.config.js';

const root = resolve(import.meta.dirname, '../..');
const FILE = 'coverage-floor.json';
const METRICS = ['statements', 'branches', 'functions', 'lines'] as const;
type Floor = Record<(typeof METRICS)[number], number>;
/** What a commit that lowers the floor carries in its message: `Coverage-floor-lowered: why`. */
const TRAILER = /^Coverage-floor-lowered: *\S/m;

function git(dir: string, ...args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

const drops = (from: Floor, to: Floor) => METRICS.filter((m) => !(to[m] >= from[m])).map((m) => `${m} ${from[m]} → ${to[m]}`);

/**
 * Every lowering of the floor in `dir`'s history that does not say why, then one in the working
 * tree against the last commit (a lowering not yet committed cannot carry the trailer yet).
 */
function unexplainedDrops(dir: string): string[] {
  const commits = (git(dir, 'log', '--format=%H', '--', FILE) ?? '').split('\n').filter(Boolean).reverse();
  const problems: string[] = [];
  let before: Floor | undefined;
  for (const commit of commits) {
    const text = git(dir, 'show', `${commit}:${FILE}`);
    const floor = text === undefined ? undefined : (JSON.parse(text) as Floor);
    const lowered = before && floor ? drops(before, floor) : [];
    if (lowered.length > 0 && !TRAILER.test(git(dir, 'log', '-1', '--format=%B', commit) ?? '')) {
      problems.push(`commit ${commit.slice(0, 12)} lowers ${lowered.join(', ')} and does not say why`);
    }
    before = floor;
  }
  const now = JSON.parse(readFileSync(join(dir, FILE), 'utf8')) as Floor;
  const lowered = before ? drops(before, now) : [];
  if (lowered.length > 0)
    problems.push(`the working tree lowers ${lowered.join(', ')}: commit it with a "Coverage-floor-lowered: why" trailer`);
  return problems;
}

const inGit = git(root, 'rev-parse', '--is-inside-work-tree')?.trim() === 'true';

describe('the coverage floor', () => {
  it(`is ${FILE}, all four metrics, and what vitest.config.ts enforces`, () => {
    const floor = JSON.parse(readFileSync(join(root, FILE), 'utf8')) as Floor;
    expect(Object.keys(floor).sort()).toEqual([...METRICS].sort());
    for (const m of METRICS) expect(floor[m]).toBeTypeOf('number');
    expect(config.test?.coverage).toMatchObject({ thresholds: floor });
  });

  it.skipIf(!inGit)('only rises: every commit that lowered it says why', () => {
    expect(unexplainedDrops(root)).toEqual([]);
  });

  describe('the check of the history', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sshgate-floor-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const commit = (floor: Floor, message: string) => {
      writeFileSync(join(dir, FILE), JSON.stringify(floor));
      git(dir, 'add', FILE);
      git(dir, '-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'commit.gpgsign=false', 'commit', '-q', '-m', message);
    };

    it.skipIf(!inGit)('finds a lowering without the trailer, in history and uncommitted; passes one with it', () => {
      git(dir, 'init', '-q');
      commit({ statements: 70, branches: 70, functions: 70, lines: 70 }, 'coverage: the floor');
      commit({ statements: 71, branches: 70, functions: 70, lines: 70 }, 'coverage: raise it');
      expect(unexplainedDrops(dir)).toEqual([]);
      commit({ statements: 71, branches: 69.5, functions: 70, lines: 70 }, 'coverage: lower it\n\nno reason');
      commit({ statements: 71, branches: 69, functions: 70, lines: 70 }, 'x: y\n\nCoverage-floor-lowered: the tests of z moved to e2e');
      writeFileSync(join(dir, FILE), JSON.stringify({ statements: 71, branches: 69, functions: 69, lines: 70 }));
      const problems = unexplainedDrops(dir);
      expect(problems).toHaveLength(2);
      expect(problems[0]).toMatch(/^commit [0-9a-f]{12} lowers branches 70 → 69.5 and does not say why$/);
      expect(problems[1]).toBe('the working tree lowers functions 70 → 69: commit it with a "Coverage-floor-lowered: why" trailer');
    });
  });
});
