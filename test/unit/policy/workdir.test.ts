/** A command given a workdir is judged as starting there: deny rules see its relative paths under it. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPolicy } from '../../../src/config/load-policy.js';
import { ConfigError } from '../../../src/errors.js';
import { engineFromYaml, web1, writeTree } from '../../support/policy.js';

const POLICY = `
rules:
  - { name: secrets, action: deny, commands: ["cat /var/secret/*", "rm -rf /"] }
  - { name: tools, action: allow, commands: ["cat *", "rm -rf *"] }
`;

describe('decide with a workdir', () => {
  it.each([
    ['cat key', '/var/secret', false],
    ['cat ../secret/key', '/var/www', false],
    ['cat ./key', '/var/secret', false],
    ['rm -rf .', '/', false],
    ['cat key', '/tmp', true],
    ['cat /etc/hosts', '/var/secret', true],
    ['cat key', '/var/my secret', false],
  ])('%s in %s: allowed %s', async (command, workdir, allowed) => {
    const engine = await engineFromYaml(POLICY);
    expect(engine.decide(web1, command, { workdir }).allowed).toBe(allowed);
  });

  it('judges the same command without a workdir as in the login directory', async () => {
    const engine = await engineFromYaml(POLICY);
    expect(engine.decide(web1, 'cat key').allowed).toBe(true);
  });
});

describe('workdirs and env in a policy file', () => {
  const load = (yaml: string) => loadPolicy(join(writeTree({ 'p.yml': yaml }), 'p.yml'));

  it('keeps where each entry was given', () => {
    const p = load('workdirs: ["/srv/*"]\nenv: [GREETING]\nrules: []\n');
    expect(p.workdirs).toEqual([{ pattern: '/srv/*', source: expect.stringMatching(/p\.yml:1:\d+$/) }]);
    expect(p.env.map((e) => e.name)).toEqual(['GREETING']);
  });

  it.each(['PATH', 'LD_PRELOAD', 'BASH_ENV', 'IFS', 'BASH_FUNC_x%%', '1X'])('refuses to list %s', (name) => {
    expect(() => load(`env: ["${name}"]\n`)).toThrow(ConfigError);
  });

  it('refuses a relative workdir', () => {
    expect(() => load('workdirs: ["srv"]\n')).toThrow(/absolute path/);
  });
});
