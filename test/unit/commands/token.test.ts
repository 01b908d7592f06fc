import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAuthenticator } from '../../../src/auth/authenticator.js';
import { runCli } from '../../../src/commands/dispatch.js';
import { captureIo, tempDir } from '../../support/policy.js';

async function cli(...argv: string[]) {
  const io = captureIo();
  const code = await runCli(argv, {}, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe('sshgate token new', () => {
  it('prints a token on stdout only, and on stderr an entry that lets exactly that token in', async () => {
    const r = await cli(
      'token',
      'new',
      '--id',
      'alice-laptop',
      '--principal',
      'alice',
      '--role',
      'ops',
      '--role',
      'true',
      '--expires',
      '2099-01-31',
    );
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^sshgate_[A-Za-z0-9_-]{43}\n$/);
    const token = r.out.trim();
    expect(r.err).not.toContain(token);
    const entry = r.err.slice(r.err.indexOf('  - id:'));
    expect(entry).toMatch(
      /^ {2}- id: alice-laptop\n {4}principal: alice\n {4}roles: \[ops, "true"\]\n {4}sha256: [0-9a-f]{64}\n {4}expires: 2099-01-31\n$/,
    );
    const file = join(tempDir(), 'tokens.yml');
    writeFileSync(file, `tokens:\n${entry}`);
    const auth = createAuthenticator({ tokensFile: file });
    expect(await auth.authenticate(`Bearer ${token}`)).toEqual({
      ok: true,
      principal: { name: 'alice', roles: ['ops', 'true'], via: 'token', credentialId: 'alice-laptop' },
    });
    expect((await auth.authenticate(`Bearer ${(await cli('token', 'new', '--id', 'x', '--principal', 'x')).out.trim()}`)).ok).toBe(false);
  });

  it('makes a different token every time', async () => {
    const a = await cli('token', 'new', '--id', 'a', '--principal', 'bob');
    const b = await cli('token', 'new', '--id', 'a', '--principal', 'bob');
    expect(a.out).not.toBe(b.out);
    expect(a.err).toContain('roles: []');
  });

  it('quotes a principal name YAML would misread', async () => {
    const r = await cli('token', 'new', '--id', 'n', '--principal', 'null');
    expect(r.err).toContain('principal: "null"');
  });

  it('refuses what the tokens file would refuse, naming the flag, and prints no token', async () => {
    for (const [args, message] of [
      [['--principal', 'alice'], 'token new needs --id and --principal'],
      [['--id', 'a b', '--principal', 'alice'], '--id: a token id is 1 to 100 of the characters'],
      [['--id', 'a', '--principal', 'role:ops'], '--principal: "role:ops" is not a name'],
      [['--id', 'a', '--principal', 'alice', '--role', 'o ps'], '--role: "o ps" is not a role'],
      [['--id', 'a', '--principal', 'alice', '--expires', 'tomorrow'], '--expires: expected a date (2027-01-31'],
    ] as const) {
      const r = await cli('token', 'new', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toContain(`sshgate: ${message}`);
    }
    expect((await cli('token', 'old')).err).toContain('unknown token command "old"; expected new');
    expect((await cli('token', 'new', 'x', '--id', 'a', '--principal', 'b')).err).toContain('token new takes no arguments');
    expect((await cli('check', '--role', 'ops')).err).toContain('token new takes --role');
    expect((await cli('check', '--expires', '2030-01-01')).err).toContain('--expires is an option of token new only');
  });
});
