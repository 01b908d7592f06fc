import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PolicyEngine } from '../../../src/policy/decide.js';
import { engineFromYaml, web1 } from '../../support/policy.js';

let engine: PolicyEngine;
beforeAll(async () => {
  engine = await engineFromYaml(`
rules:
  - action: allow
    commands: ["uptime", "hostname", "df -h*", "ls *", "grep *", "echo *"]
`);
});

const allowedCommand = fc.constantFrom('uptime', 'hostname', 'df -h', 'df -h /', 'ls -l /tmp', 'grep -c x /var/log/syslog', "echo 'a b'");
const word = fc.stringMatching(/^[a-z][a-z0-9_./-]{0,11}$/);
/** A command no rule allows: any word list whose first word is not an allowed command name. */
const deniedCommand = fc
  .tuple(word, fc.array(word, { maxLength: 3 }))
  .map(([head, rest]) => [head, ...rest].join(' '))
  .filter((c) => !['uptime', 'hostname', 'df', 'ls', 'grep', 'echo'].includes(c.split(' ')[0] as string));

const JOINERS: ((a: string, b: string) => string)[] = [
  (a, b) => `${a}; ${b}`,
  (a, b) => `${a};${b}`,
  (a, b) => `${a} && ${b}`,
  (a, b) => `${a} || ${b}`,
  (a, b) => `${a} | ${b}`,
  (a, b) => `${a} |& ${b}`,
  (a, b) => `${a} & ${b}`,
  (a, b) => `${a}&${b}`,
  (a, b) => `${a}\n${b}`,
  (a, b) => `${a} #\n${b}`,
  (a, b) => `${a} $(${b})`,
  (a, b) => `${a} \`${b}\``,
  (a, b) => `${a} "$(${b})"`,
  (a, b) => `${a} <(${b})`,
  (a, b) => `${a} > >(${b})`,
  (a, b) => `${b}; ${a}`,
  (a, b) => `${b} | ${a}`,
  (a, b) => `(${b}) ; ${a}`,
  (a, b) => `${a} && { ${b}; }`,
  (a, b) => `${a} $(${a} $(${b}))`,
];

describe('joining an allowed command with a denied one', () => {
  it('is denied for every shell operator and substitution, in either order', () => {
    fc.assert(
      fc.property(allowedCommand, deniedCommand, fc.nat(JOINERS.length - 1), (a, b, j) => {
        expect(engine.decide(web1, a).allowed).toBe(true);
        expect(engine.decide(web1, b).allowed).toBe(false);
        const joined = (JOINERS[j] as (a: string, b: string) => string)(a, b);
        expect(engine.decide(web1, joined).allowed, joined).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on arbitrary input, and denies any command with a control character', () => {
    fc.assert(
      fc.property(allowedCommand, fc.string({ unit: 'binary', maxLength: 300 }), (a, s) => {
        const d = engine.decide(web1, `${a} ${s}`);
        expect(typeof d.reason).toBe('string');
        // eslint-disable-next-line no-control-regex
        if (/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(s)) expect(d.allowed).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });
});
