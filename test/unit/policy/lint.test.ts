import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LocatedCase } from '../../../src/config/load-cases.js';
import { loadInventory } from '../../../src/config/load-inventory.js';
import { lintPolicy, type LintCode } from '../../../src/policy/lint.js';
import { engineFromYaml, writeTree } from '../../support/policy.js';

const inventory = () => {
  const dir = writeTree({
    'servers.yml': `hosts:
  - { alias: web1, host: 10.0.0.11, credentials: k, tags: [web, prod] }
  - { alias: web2, host: 10.0.0.12, credentials: k, tags: [web, prod] }
  - { alias: db1, host: 10.0.0.21, credentials: k, tags: [db, prod] }
  - { alias: stg1, host: 10.20.0.5, credentials: k, tags: [staging] }
`,
    'credentials.yml': 'entries:\n  - { name: k, username: u, agent: true }\n',
  });
  return loadInventory({ configDir: dir, keysDir: join(dir, 'keys') });
};

/** The findings of one code for a policy, as `message` strings. */
async function lint(code: LintCode, yaml: string, cases?: LocatedCase[]) {
  const engine = await engineFromYaml(yaml);
  const tests = cases ? { cases, dir: '/p/tests' } : undefined;
  return lintPolicy({ engine, inventory: inventory(), ...(tests ? { tests } : {}) }).filter((f) => f.code === code);
}

const rules = (...lines: string[]) => `rules:\n${lines.map((l) => `  - ${l}\n`).join('')}`;

describe('policy lint: a wildcard where a wrapper names its command', () => {
  it.each([
    ['timeout *'],
    ['sudo *'],
    ['watch *'],
    ['timeout 5 *'],
    ['sudo -u postgres *'],
    ['nice -n 5 sudo *'],
    ['sudo -*'],
    ['env X=* ls'],
    ['chroot /srv *'],
    ['xargs -n1 *'],
  ])('flags %s, with the rule name, its file:line and a hint', async (pattern) => {
    const found = await lint('wrapper-wildcard', rules(`{ name: w, action: allow, commands: ["${pattern}"] }`));
    expect(found).toHaveLength(1);
    expect(found[0]?.message).toContain(`allow pattern "${pattern}" of rule "w"`);
    expect(found[0]?.message).toMatch(/stands where the command \S+ runs is named/);
    expect(found[0]?.source).toMatch(/policy\.yml:2:5$/);
    expect(found[0]?.hint).toMatch(/name the command after \S+ literally/);
  });

  it.each([['sudo systemctl restart *'], ['timeout 5 journalctl -u nginx *'], ['find /tmp -name *'], ['ls *'], ['*'], ['nice -n 5 ls *']])(
    'does not flag %s, whose wrapped command is named',
    async (pattern) => {
      expect(await lint('wrapper-wildcard', rules(`{ action: allow, commands: ["${pattern}"] }`))).toEqual([]);
    },
  );

  it('flags ask rules too, and not deny rules', async () => {
    expect(await lint('wrapper-wildcard', rules('{ action: ask, commands: ["sudo *"] }'))).toHaveLength(1);
    expect(await lint('wrapper-wildcard', rules('{ action: deny, commands: ["sudo *"] }'))).toEqual([]);
  });
});

describe("policy lint: a wildcard where a wrapper's code goes", () => {
  it.each([
    ['python3 -c *', 'python3', '-c'],
    ['perl -ne *', 'perl', '-ne'],
    ['sudo -s *', 'sudo', '-s'],
    ['sudo python3 -c *', 'python3', '-c'],
    ['git -c *', 'git', '-c'],
  ])('flags %s', async (pattern, program, flag) => {
    const found = await lint('code-wildcard', rules(`{ action: allow, commands: ["${pattern}"] }`));
    expect(found.map((f) => f.message)).toEqual([
      expect.stringContaining(`the code ${program} runs with ${flag} is "*", so it allows any ${program} code`),
    ]);
  });

  it.each([["python3 -c 'print(1)' *"], ['bash -c *'], ['grep -c *'], ['python3 -V']])('does not flag %s', async (pattern) => {
    expect(await lint('code-wildcard', rules(`{ action: allow, commands: ["${pattern}"] }`))).toEqual([]);
  });

  it('reports one finding per pattern: code first', async () => {
    const found = lintPolicy({
      engine: await engineFromYaml(rules('{ action: allow, commands: ["sudo -s *"] }')),
      inventory: inventory(),
    });
    expect(found.filter((f) => f.code === 'code-wildcard' || f.code === 'wrapper-wildcard').map((f) => f.code)).toEqual(['code-wildcard']);
  });
});

describe('policy lint: an allow rule a deny rule makes dead', () => {
  it('flags a pattern every text of which a deny pattern matches, on every host, naming the deny rule', async () => {
    const found = await lint(
      'dead-allow',
      rules(
        '{ name: logs, action: allow, commands: ["journalctl --vacuum-size=*", "journalctl -u *"] }',
        '{ name: no vacuum, action: deny, commands: ["journalctl * --vacuum*", "journalctl --vacuum*"] }',
      ),
    );
    expect(found.map((f) => f.message)).toEqual([
      expect.stringMatching(
        /^allow pattern "journalctl --vacuum-size=\*" of rule "logs" can never allow: every command it matches is denied on each of the 4 hosts it applies to, by deny rule "no vacuum" \(pattern "journalctl --vacuum\*", .*policy\.yml:3:5\)$/,
      ),
    ]);
    expect(found[0]?.source).toMatch(/policy\.yml:2:5$/);
  });

  it('names the rule once when every pattern of it is dead, by a denied substring too', async () => {
    const found = await lint(
      'dead-allow',
      rules('{ name: wipe, action: allow, tags: [staging], commands: ["rm -rf /tmp/*", "rm -rf /var/*"] }'),
    );
    expect(found.map((f) => f.message)).toEqual([
      'allow rule "wipe" can never allow: every one of its patterns is denied on stg1, the one host it applies to (the denied substring "rm -rf /")',
    ]);
  });

  it.each([
    ['a deny pattern that misses some texts', '["journalctl -u *"]', '{ action: deny, commands: ["journalctl -u nginx*"] }'],
    ['a deny rule on fewer hosts', '["reboot"]', '{ action: deny, tags: [web], commands: ["reboot*"] }'],
    ['a deny rule for some callers only', '["reboot"]', '{ action: deny, callers: [role:intern], commands: ["reboot*"] }'],
    ['a deny rule for elevated calls only', '["reboot"]', '{ action: deny, become: root, commands: ["reboot*"] }'],
    ['a ? where the deny pattern has a literal', '["ls /etc/?hadow"]', '{ action: deny, commands: ["*/etc/shadow"] }'],
  ])('does not flag a near miss: %s', async (_what, allow, deny) => {
    expect(await lint('dead-allow', rules(`{ action: allow, commands: ${allow} }`, deny))).toEqual([]);
  });

  it('flags an allow rule for some callers under a deny rule for the same callers, and one for elevated calls under a deny for all', async () => {
    expect(
      await lint(
        'dead-allow',
        rules(
          '{ action: allow, callers: [role:ops], commands: ["reboot"] }',
          '{ action: deny, callers: [role:ops, bob], commands: ["reboot*"] }',
        ),
      ),
    ).toHaveLength(1);
    expect(
      await lint('dead-allow', rules('{ action: allow, become: root, commands: ["reboot"] }', '{ action: deny, commands: ["reboot*"] }')),
    ).toHaveLength(1);
  });

  it('flags a dead pattern on hosts that different deny rules cover, when together they cover every host', async () => {
    const found = await lint(
      'dead-allow',
      rules(
        '{ action: allow, commands: ["reboot"] }',
        '{ name: prod, action: deny, tags: [prod], commands: ["reboot*"] }',
        '{ name: staging, action: deny, tags: [staging], commands: ["reboot"] }',
      ),
    );
    expect(found).toHaveLength(1);
    expect(found[0]?.message).toContain('deny rule "prod"');
    expect(found[0]?.message).toContain('deny rule "staging"');
  });
});

describe('policy lint: rules no test case exercises', () => {
  const policy = rules(
    '{ name: uptime, action: allow, commands: ["uptime"] }',
    '{ name: df, action: allow, commands: ["df -h*"] }',
    '{ name: no reboot, action: deny, commands: ["reboot*"] }',
  );
  const located = (c: Omit<LocatedCase, 'source'>): LocatedCase => ({ ...c, source: 'tests/t.yml:1:3' });

  it('flags each rule no case matches, allow and deny alike, with a case to add', async () => {
    const found = await lint('untested-rule', policy, [located({ alias: 'web1', command: 'uptime', expect: 'allow' })]);
    expect(found.map((f) => f.message)).toEqual([
      'allow rule "df" matches no command of any test case',
      'deny rule "no reboot" matches no command of any test case',
    ]);
    expect(found[1]?.hint).toContain('{ alias: …, command: "reboot", expect: deny }');
  });

  it('counts a rule matched by a case it does not decide: a deny rule beside an allow rule, in a compound command', async () => {
    const found = await lint('untested-rule', policy, [located({ alias: 'web1', command: 'uptime; df -h; reboot', expect: 'deny' })]);
    expect(found).toEqual([]);
  });

  it('says once that there are no tests, rather than once per rule', async () => {
    const found = await lint('no-tests', policy, []);
    expect(found.map((f) => f.message)).toEqual(['/p/tests holds no test cases: no rule of the policy is tested']);
    expect(await lint('untested-rule', policy, [])).toEqual([]);
  });
});

describe('policy lint: duplicates', () => {
  it('flags two rules of one action with the same patterns, in any order, and a pattern listed twice', async () => {
    const found = lintPolicy({
      engine: await engineFromYaml(
        rules(
          '{ name: a, action: allow, tags: [web], commands: ["uptime", "df -h"] }',
          '{ name: b, action: allow, tags: [db], commands: ["df -h", "uptime"] }',
          '{ name: c, action: allow, commands: ["ls", "ls"] }',
        ),
      ),
      inventory: inventory(),
    });
    expect(found.filter((f) => f.code === 'duplicate-rules').map((f) => f.message)).toEqual([
      expect.stringMatching(/^rule "b" has the same allow patterns as rule "a" \(.*policy\.yml:2:5\)$/),
    ]);
    expect(found.filter((f) => f.code === 'duplicate-pattern').map((f) => f.message)).toEqual([
      'rule "c" lists the pattern "ls" more than once',
    ]);
  });

  it('does not flag rules that share some patterns, or the same patterns with another action', async () => {
    const yaml = rules(
      '{ action: allow, commands: ["uptime", "df -h"] }',
      '{ action: allow, commands: ["uptime"] }',
      '{ action: deny, tags: [db], commands: ["uptime", "df -h"] }',
    );
    expect(await lint('duplicate-rules', yaml)).toEqual([]);
  });
});

describe('policy lint: tags and aliases no host has', () => {
  it('flags a tag no host has, with the tag meant; not a glob that matches one', async () => {
    const found = await lint('unknown-tag', rules('{ name: r, action: allow, tags: [web, stagign, "d*"], commands: ["uptime"] }'));
    expect(found.map((f) => f.message)).toEqual(['rule "r" names the tag "stagign", which no host has; did you mean "staging"?']);
    expect(found[0]?.hint).toBe("the hosts' tags: web, prod, db, staging");
  });

  it('flags an alias no host has, in rules and file rules, with the alias meant', async () => {
    const found = await lint(
      'unknown-alias',
      `${rules('{ name: r, action: allow, aliases: [wbe1, "web*"], commands: ["uptime"] }')}files:\n  - { name: f, action: allow, aliases: [db2], read: ["/etc/hosts"] }\n`,
    );
    expect(found.map((f) => f.message)).toEqual([
      'rule "r" names the alias "wbe1", which no host has; did you mean "web1"?',
      'file rule "f" names the alias "db2", which no host has; did you mean "db1"?',
    ]);
  });

  it('flags overrides for a tag or an alias no host has, and says nothing of a name too far from any', async () => {
    const found = lintPolicy({
      engine: await engineFromYaml(
        'overrides:\n  tags: { prdo: { max_seconds: 5 }, zzzzzz: { max_seconds: 5 } }\n  aliases: { dbl: { max_seconds: 5 } }\n',
      ),
      inventory: inventory(),
    });
    expect(found.filter((f) => f.code === 'unknown-tag' || f.code === 'unknown-alias').map((f) => f.message)).toEqual([
      'overrides.tags.prdo: no host has the tag "prdo"; did you mean "prod"?',
      'overrides.tags.zzzzzz: no host has the tag "zzzzzz"',
      'overrides.aliases.dbl: no host has the alias "dbl"; did you mean "db1"?',
    ]);
  });

  it('flags a rule that applies to no host at all, and not one that applies to some', async () => {
    const found = await lint(
      'no-host',
      rules(
        '{ name: r, action: allow, tags: [db], aliases: ["web*"], commands: ["uptime"] }',
        '{ action: allow, tags: [db], commands: ["df"] }',
      ),
    );
    expect(found.map((f) => f.message)).toEqual(['rule "r" applies to no host in the inventory']);
  });
});
