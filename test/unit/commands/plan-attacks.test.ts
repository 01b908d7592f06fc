/** The attack on the policy through `sshgate plan`, for hosts pinned to bash and to sh. */
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/commands/dispatch.js';
import { ATTACK_POLICY, MUST_DENY, STILL_ALLOWED } from '../../support/attacks.js';
import { captureIo, writeTree } from '../../support/policy.js';

const root = writeTree({
  'config/servers.yml': [
    'hosts:',
    '  - { alias: named-bash, host: 10.0.0.1, credentials: k }',
    '  - { alias: named-sh, host: 10.0.0.2, credentials: k, shell: sh }',
    '  - { alias: star-bash, host: 10.0.0.3, credentials: k, shell: bash }',
    '  - { alias: star-sh, host: 10.0.0.4, credentials: k, shell: sh }',
    '',
  ].join('\n'),
  'config/credentials.yml': 'entries:\n  - { name: k, username: u, agent: true }\n',
  'policies/attack.yml': ATTACK_POLICY,
});

async function plan(alias: string, command: string) {
  const io = captureIo();
  const code = await runCli(['plan', '--config', `${root}/config`, '--policy', `${root}/policies`, alias, '--', command], {}, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe.each(['named-bash', 'named-sh', 'star-bash', 'star-sh'])('sshgate plan %s', (alias) => {
  it.each(MUST_DENY)('exits 1 for (%s) %j and says why', async (_, line) => {
    const r = await plan(alias, line);
    expect(r.err).toBe('');
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(new RegExp(`^${alias}: DENY`));
  });
});

describe.each(['named-bash', 'named-sh'])('sshgate plan %s', (alias) => {
  it.each(STILL_ALLOWED)('exits 0 for %j', async (line) => {
    const r = await plan(alias, line);
    expect(r.code, r.out).toBe(0);
  });
});
