import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { timestampOf } from '../../../src/config/file-formats.js';
import { loadTokensFile } from '../../../src/config/load-tokens.js';
import { ConfigError, formatIssue } from '../../../src/errors.js';
import { tempDir } from '../../support/policy.js';

const H1 = 'a'.repeat(64);
const H2 = 'b'.repeat(64);

function load(yaml: string) {
  const dir = tempDir();
  writeFileSync(join(dir, 'tokens.yml'), yaml);
  return loadTokensFile(join(dir, 'tokens.yml'));
}

function problems(yaml: string): string[] {
  try {
    load(yaml);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => formatIssue(i).replace(/^.*\/tokens\.yml/, 'tokens.yml'));
  }
  throw new Error('expected the tokens file to be refused');
}

describe('the tokens file loader', () => {
  it('loads entries with their defaults, expiry instant and place in the file', () => {
    const tokens = load(
      `tokens:\n  - id: a\n    principal: alice\n    sha256: ${H1}\n  - id: b\n    principal: bob\n    roles: [ops]\n    sha256: ${H2}\n    expires: 2027-01-31\n`,
    );
    expect(tokens).toEqual([
      { id: 'a', principal: 'alice', roles: [], sha256: H1, source: expect.stringMatching(/tokens\.yml:2:5$/) },
      {
        id: 'b',
        principal: 'bob',
        roles: ['ops'],
        sha256: H2,
        expires: '2027-01-31',
        expiresAt: Date.parse('2027-01-31T00:00:00Z'),
        source: expect.stringMatching(/tokens\.yml:5:5$/),
      },
    ]);
  });

  it('lists every problem of the file at its line and column', () => {
    const yaml = [
      'tokens:',
      '  - id: good',
      '    principal: alice',
      `    sha256: ${H1}`,
      '  - id: bad id',
      '    principal: role:ops',
      '    roles: [ops, "two words"]',
      '    sha256: 1234',
      '    expires: 2027-02-30',
      '    token: hunter2',
      '  - id: good',
      '    principal: bob',
      `    sha256: ${H2}`,
      '  - id: other',
      '    principal: carol',
      `    sha256: ${H1}`,
      '',
    ].join('\n');
    expect(problems(yaml)).toEqual([
      'tokens.yml:5:9: tokens[1].id: a token id is 1 to 100 of the characters A-Z a-z 0-9 . _ -',
      'tokens.yml:6:16: tokens[1].principal: "role:ops" is not a name: a name is 1 to 100 of A-Z a-z 0-9 . _ @ + -, not starting with . @ + or -',
      'tokens.yml:7:18: tokens[1].roles[1]: "two words" is not a role: a role is 1 to 100 of A-Z a-z 0-9 . _ -, not starting with . or -',
      "tokens.yml:8:13: tokens[1].sha256: expected the 64 lowercase hex digits of the token's SHA-256 as a string, as `sshgate token new` prints them",
      expect.stringMatching(/^tokens\.yml:9:14: tokens\[1\]\.expires: expected a date \(2027-01-31/),
      'tokens.yml:10:5: unknown key "token"; expected one of: id, principal, roles, sha256, expires, description',
      'tokens.yml:11:9: duplicate token id "good" (first defined in tokens[0])',
      'tokens.yml:16:13: the same token as tokens[0]; give each caller a token of its own',
    ]);
  });

  it('says what the file should hold when it is not a list of tokens', () => {
    expect(problems('- id: a\n')).toEqual([
      'tokens.yml:1:1: expected a mapping with the list of tokens: "tokens:", then entries of id, principal, roles, sha256',
    ]);
    expect(problems('sshgate_Jx2kLq9v0cY\n')).toEqual([
      'tokens.yml:1:1: expected a mapping with the list of tokens: "tokens:", then entries of id, principal, roles, sha256',
    ]);
    expect(problems('tokens: {}\n')).toEqual(['tokens.yml:1:9: tokens: Invalid input: expected array, received object']);
    expect(problems('tokens:\n  - id: a\n    sha256: "x" "y"\n')).toEqual([expect.stringMatching(/^tokens\.yml:3:\d+: YAML syntax/)]);
  });

  it('reads expiry dates and times exactly, and refuses impossible ones', () => {
    expect(timestampOf('2027-01-31')).toBe(Date.UTC(2027, 0, 31));
    expect(timestampOf('2027-01-31T18:30Z')).toBe(Date.UTC(2027, 0, 31, 18, 30));
    expect(timestampOf('2027-01-31T18:30:15.5+02:00')).toBe(Date.UTC(2027, 0, 31, 16, 30, 15, 500));
    for (const bad of ['2027-02-29', '2027-13-01', '2027-01-31T24:00Z', '2027-01-31T18:00', '31.01.2027', '2027-01-31 18:00:00Z', ''])
      expect(timestampOf(bad), bad).toBeUndefined();
    expect(timestampOf('2028-02-29')).toBe(Date.UTC(2028, 1, 29));
  });
});
