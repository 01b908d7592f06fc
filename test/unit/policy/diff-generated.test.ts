import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/commands/dispatch.js';
import { loadInventory } from '../../../src/config/load-inventory.js';
import { globMatch } from '../../../src/glob.js';
import { changedPatterns } from '../../../src/policy/diff-generated.js';
import { diffPolicies } from '../../../src/policy/diff.js';
import { commandsAround, patternWords } from '../../../src/policy/pattern-fuzz.js';
import { captureIo, engineFromYaml, writeTree } from '../../support/policy.js';

const inventory = () => {
  const dir = writeTree({
    'servers.yml': `hosts:
  - { alias: web1, host: 10.0.0.11, credentials: k, tags: [web] }
  - { alias: web2, host: 10.0.0.12, credentials: k, tags: [web] }
  - { alias: db1, host: 10.0.0.21, credentials: k, tags: [db] }
`,
    'credentials.yml': 'entries:\n  - { name: k, username: u, agent: true }\n',
  });
  return loadInventory({ configDir: dir, keysDir: join(dir, 'keys') });
};

// The deny rule carves the vacuum options out of the allow pattern. Removing it widens the allow
// pattern, but no sample shows it: the deny pattern's samples (`journalctl --vacuum`, `journalctl x
// --vacuumx`) match no allow pattern, and the allow pattern's (`journalctl -u x -n x`) no deny one.
const OLD = `rules:
  - { name: logs, action: allow, commands: ["journalctl -u * -n *", "uptime"] }
  - { name: no vacuum, action: deny, commands: ["journalctl * --vacuum*"] }
`;
const NEW = `rules:
  - { name: logs, action: allow, commands: ["journalctl -u * -n *", "uptime"] }
`;

describe('commands around a pattern', () => {
  it('are the same for the same seed, and others for another seed', () => {
    const partners = ['journalctl -u * -n *', 'journalctl * --vacuum*', '*/etc/shadow*'];
    const words = patternWords(partners);
    const a = commandsAround('journalctl * --vacuum*', partners, words, 40, 1);
    expect(a).toHaveLength(40);
    expect(commandsAround('journalctl * --vacuum*', partners, words, 40, 1)).toEqual(a);
    expect(commandsAround('journalctl * --vacuum*', partners, words, 40, 2)).not.toEqual(a);
  });

  it('meet each partner pattern: texts both match, the wildcards filled', () => {
    const partners = ['journalctl -u * -n *'];
    const made = commandsAround('journalctl * --vacuum*', partners, patternWords(partners), 30, 7);
    const both = made.filter((c) => globMatch('journalctl -u * -n *', c) && globMatch('journalctl * --vacuum*', c));
    expect(both.length).toBeGreaterThan(5);
    for (const c of made) expect(c.startsWith('journalctl ')).toBe(true);
  });

  it('stop short of the count for a pattern with few texts', () => {
    expect(commandsAround('uptime', [], [], 20, 1)).toEqual(['uptime']);
    expect(commandsAround('df -h?', [], [], 50, 1).length).toBeLessThanOrEqual(7);
  });

  it('take the words of the patterns, and the runs between their wildcards', () => {
    expect(patternWords(['journalctl * --vacuum*', 'ls -l'])).toEqual(['--vacuum', '-l', 'journalctl', 'ls']);
  });
});

describe('policy diff: commands generated around each changed pattern', () => {
  it('lists as changed only the patterns without a rule alike in the other version', async () => {
    const before = await engineFromYaml(OLD);
    const after = await engineFromYaml(`rules:
  - { name: logs renamed, action: allow, commands: ["journalctl -u * -n *"] }
  - { name: up, action: allow, tags: [web], commands: ["uptime"] }
`);
    expect(changedPatterns(before, after).map((c) => [c.pattern, c.version])).toEqual([
      ['uptime', 'old'],
      ['journalctl * --vacuum*', 'old'],
    ]);
  });

  it('reports a widening no sample and no case shows: a deny pattern removed from under an allow pattern', async () => {
    const before = await engineFromYaml(OLD);
    const after = await engineFromYaml(NEW);
    const samplesOnly = diffPolicies(before, after, inventory(), [], { total: 0, seed: 1 });
    expect(samplesOnly.decisions).toEqual([]);
    const { decisions, generated } = diffPolicies(before, after, inventory(), [], { total: 64, seed: 1 });
    expect(decisions).toEqual([]);
    expect(generated.patterns).toBe(1);
    expect(generated.commands).toBeGreaterThan(30);
    // 3 hosts decide alike: one group; 2 versions, 1 caller, no elevation.
    expect(generated.decisions).toBe(generated.commands * 2);
    const widened = generated.changes.filter((c) => c.widened);
    expect(widened.length).toBeGreaterThan(0);
    for (const c of widened) {
      expect([c.from, c.to, c.hosts]).toEqual(['deny', 'allow', ['web1', 'web2', 'db1']]);
      expect(globMatch('journalctl -u * -n *', c.after.segments[0]?.text ?? '')).toBe(true);
      expect(c.after.segments[0]?.text).toContain('--vacuum');
      expect(c.origin).toBe('generated around pattern "journalctl * --vacuum*" of rule "no vacuum" in OLD');
    }
  });

  it('judges a command once per group of hosts the same rules apply to, names them all, and skips hosts nothing changes on', async () => {
    const before = await engineFromYaml(`rules:\n  - { action: allow, tags: [web], commands: ["ls /srv/*"] }\n`);
    const after = await engineFromYaml(`rules:\n  - { action: allow, tags: [web], commands: ["ls *"] }\n`);
    const { generated } = diffPolicies(before, after, inventory(), [], { total: 64, seed: 1 });
    // db1 has no rule in either version: nothing can change there, so it is not judged.
    expect(generated.decisions).toBe(generated.commands * 2);
    expect(generated.changes.length).toBeGreaterThan(0);
    for (const c of generated.changes) expect(c.hosts).toEqual(['web1', 'web2']);
  });

  it('puts narrowed changes after widened ones', async () => {
    const before = await engineFromYaml(`rules:\n  - { action: allow, commands: ["ls /srv/*"] }\n`);
    const after = await engineFromYaml(`rules:\n  - { action: allow, commands: ["cat *"] }\n`);
    const { generated } = diffPolicies(before, after, inventory(), [], { total: 64, seed: 1 });
    const marks = generated.changes.map((c) => c.widened);
    expect(marks).toContain(true);
    expect(marks).toContain(false);
    expect(marks).toEqual([...marks].sort((a, b) => Number(b) - Number(a)));
  });
});

describe('sshgate policy diff --generate', () => {
  const policies = () => {
    const dir = writeTree({ 'old/p.yml': OLD, 'new/p.yml': NEW });
    return [join(dir, 'old/p.yml'), join(dir, 'new/p.yml')] as const;
  };
  const diff = async (...argv: string[]) => {
    const io = captureIo();
    const code = await runCli(['policy', 'diff', ...argv], {}, io);
    return { code, out: io.stdout(), err: io.stderr() };
  };

  it('shows the widened commands first, marked, with how many were generated and judged', async () => {
    const [old, now] = policies();
    const r = await diff(old, now);
    expect(r.code).toBe(1);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^generated: \d+ commands around 1 changed pattern \(up to 128 each of 128, seed 1\), judged in [\d,]+ decisions: \d+ decision changes?, listed below$/,
    );
    expect(lines[1]).toMatch(
      /^WIDENED {3}deny→allow {2}bastion, web1, web2, db1, stg-app-1 {2}"journalctl .*--vacuum.*" {2}\(generated around pattern "journalctl \* --vacuum\*" of rule "no vacuum" in OLD; now: logs\)$/,
    );
    expect(lines.at(-1)).toMatch(/^0 decision changes, 0 limit changes, \d+ generated command changes? \(\d+ widened\)$/);
  });

  it('gives the same report for the same seed, and finds nothing with --generate 0', async () => {
    const [old, now] = policies();
    expect((await diff(old, now)).out).toBe((await diff(old, now, '--seed', '1')).out);
    expect(await diff(old, now, '--generate', '0')).toMatchObject({ code: 0, out: 'no change\n' });
  });

  it('refuses a count or seed that is not a whole number in range', async () => {
    const [old, now] = policies();
    expect((await diff(old, now, '--generate', 'many')).err).toContain('--generate takes a whole number from 0 to 10000, not "many"');
    expect((await diff(old, now, '--seed', '-1')).code).toBe(2);
    const io = captureIo();
    expect(await runCli(['check', '--seed', '1'], {}, io)).toBe(2);
    expect(io.stderr()).toContain('--generate and --seed are options of policy diff only');
  });
});
