import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { newToken, TokenTable, tokenHash } from '../../../src/auth/tokens.js';
import { ConfigError } from '../../../src/errors.js';
import { tempDir } from '../../support/policy.js';

function tokensFile(yaml: string): string {
  const path = join(tempDir(), 'tokens.yml');
  writeFileSync(path, yaml);
  return path;
}

const alice = newToken();
const bot = newToken();
const TWO = `tokens:
  - id: alice-laptop
    principal: alice
    roles: [ops, deploy]
    sha256: ${alice.sha256}
  - id: ci
    principal: ci-bot
    sha256: ${bot.sha256}
    expires: 2020-01-01
`;

describe('the tokens file', () => {
  it('names the principal, its roles and the token id for a token whose hash is listed', () => {
    const table = new TokenTable(tokensFile(TWO));
    expect(table.size).toBe(2);
    expect(table.match(alice.token)).toEqual({
      kind: 'principal',
      principal: { name: 'alice', roles: ['ops', 'deploy'], via: 'token', credentialId: 'alice-laptop' },
    });
  });

  it('knows no token that is not listed, nor one that differs by a character, nor the hash itself', () => {
    const table = new TokenTable(tokensFile(TWO));
    expect(table.match(newToken().token)).toEqual({ kind: 'unknown' });
    expect(table.match(`${alice.token.slice(0, -1)}${alice.token.endsWith('A') ? 'B' : 'A'}`)).toEqual({ kind: 'unknown' });
    expect(table.match(alice.token.slice(0, -1))).toEqual({ kind: 'unknown' });
    expect(table.match(alice.sha256)).toEqual({ kind: 'unknown' });
    expect(table.match('')).toEqual({ kind: 'unknown' });
  });

  it('refuses a token from the instant it expires, and takes it until then', () => {
    const path = tokensFile(TWO.replace('expires: 2020-01-01', 'expires: 2030-06-01T12:00:00+02:00'));
    const table = new TokenTable(path);
    const at = Date.parse('2030-06-01T10:00:00Z');
    expect(table.match(bot.token, at - 1)).toMatchObject({ kind: 'principal', principal: { name: 'ci-bot', roles: [] } });
    expect(table.match(bot.token, at)).toEqual({ kind: 'expired', id: 'ci', expiredAt: new Date(at) });
    expect(new TokenTable(tokensFile(TWO)).match(bot.token)).toMatchObject({ kind: 'expired', id: 'ci' });
  });

  it('takes a new token on reload, and forgets a removed one', () => {
    const path = tokensFile(TWO);
    const table = new TokenTable(path);
    const carol = newToken();
    writeFileSync(path, `tokens:\n  - { id: carol, principal: carol, roles: [dev], sha256: ${carol.sha256} }\n`);
    expect(table.match(carol.token).kind).toBe('unknown');
    expect(table.reload()).toEqual({ ok: true, tokens: 1 });
    expect(table.match(carol.token)).toMatchObject({ kind: 'principal', principal: { name: 'carol', roles: ['dev'] } });
    expect(table.match(alice.token).kind).toBe('unknown');
  });

  it('keeps the tokens it has when the reloaded file is bad, and says where it is bad', () => {
    const path = tokensFile(TWO);
    const table = new TokenTable(path);
    writeFileSync(path, `tokens:\n  - id: alice-laptop\n    principal: alice\n    sha256: ${alice.sha256.toUpperCase()}\n`);
    const result = table.reload();
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toBeInstanceOf(ConfigError);
    expect(result.error.message).toContain(
      `${path}:4:13: tokens[0].sha256: expected the 64 lowercase hex digits of the token's SHA-256 as a string`,
    );
    expect(table.size).toBe(2);
    expect(table.match(alice.token).kind).toBe('principal');
    writeFileSync(path, 'tokens: [');
    expect(table.reload().ok).toBe(false);
    expect(table.match(alice.token).kind).toBe('principal');
  });

  it('refuses to start from a bad file', () => {
    expect(() => new TokenTable(join(tempDir(), 'missing.yml'))).toThrow(/missing\.yml:1:1: file not found/);
  });

  it('makes tokens of 256 random bits, hashed as the file stores them', () => {
    const tokens = new Set(Array.from({ length: 100 }, () => newToken().token));
    expect(tokens.size).toBe(100);
    const { token, sha256 } = newToken();
    expect(token).toMatch(/^sshgate_[A-Za-z0-9_-]{43}$/);
    expect(sha256).toBe(tokenHash(token));
    expect(tokenHash('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
