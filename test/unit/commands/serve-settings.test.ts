import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { AUTH_FLAGS, authSettings, httpOptions, maxTasksOf } from '../../../src/commands/serve-settings.js';
import { tempDir } from '../../support/policy.js';

const ISSUER = 'https://auth.example.com/realms/ops';
const RESOURCE = 'https://sshgate.example.com/mcp';

describe('the settings of HTTP callers', () => {
  it('is none when neither a tokens file nor an issuer is set (an empty variable is not set)', () => {
    expect(authSettings({}, {})).toBeUndefined();
    expect(authSettings({}, { SSHGATE_TOKENS_FILE: '', SSHGATE_OAUTH_ISSUER: '' })).toBeUndefined();
  });

  it('reads the tokens file and the issuer from flags, parsed as the dispatcher would', () => {
    const { values } = parseArgs({
      args: ['--tokens-file', 'tokens.yml', '--oauth-issuer', ISSUER, '--oauth-resource', RESOURCE],
      options: AUTH_FLAGS,
    });
    expect(authSettings(values, {})).toEqual({
      tokensFile: 'tokens.yml',
      oauth: {
        issuer: ISSUER,
        resource: RESOURCE,
        rolesClaim: 'roles',
        nameClaim: 'sub',
        algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      },
    });
  });

  it('reads every setting from the environment, and a flag wins over its variable', () => {
    const env = {
      SSHGATE_TOKENS_FILE: '/etc/sshgate/tokens.yml',
      SSHGATE_OAUTH_ISSUER: 'https://other.example.com',
      SSHGATE_OAUTH_RESOURCE: RESOURCE,
      SSHGATE_OAUTH_JWKS_URL: 'https://auth.example.com/keys',
      SSHGATE_OAUTH_ROLES_CLAIM: 'scope',
      SSHGATE_OAUTH_NAME_CLAIM: 'preferred_username',
      SSHGATE_OAUTH_ALGORITHMS: 'ES256, EdDSA',
    };
    expect(authSettings({ 'oauth-issuer': ISSUER }, env)).toEqual({
      tokensFile: '/etc/sshgate/tokens.yml',
      oauth: {
        issuer: ISSUER,
        resource: RESOURCE,
        jwksUrl: 'https://auth.example.com/keys',
        rolesClaim: 'scope',
        nameClaim: 'preferred_username',
        algorithms: ['ES256', 'EdDSA'],
      },
    });
  });

  it('refuses a setting that cannot work, naming the flag or the variable to fix', () => {
    const cases: [Parameters<typeof authSettings>[0], Record<string, string>, string | RegExp][] = [
      [{ 'oauth-issuer': ISSUER }, {}, /^--oauth-issuer needs --oauth-resource \(SSHGATE_OAUTH_RESOURCE\)/],
      [{ 'oauth-resource': RESOURCE }, {}, /^--oauth-resource needs --oauth-issuer/],
      [
        { 'tokens-file': 't.yml' },
        { SSHGATE_OAUTH_ROLES_CLAIM: 'scope' },
        'SSHGATE_OAUTH_ROLES_CLAIM is set, but no OAuth issuer: set --oauth-issuer too',
      ],
      [
        { 'oauth-issuer': 'http://auth.example.com', 'oauth-resource': RESOURCE },
        {},
        '--oauth-issuer (SSHGATE_OAUTH_ISSUER): the issuer must be an https URL (http only on loopback)',
      ],
      [
        { 'oauth-issuer': ISSUER, 'oauth-resource': 'sshgate' },
        {},
        /^--oauth-resource \(SSHGATE_OAUTH_RESOURCE\): the resource URI must be an absolute URL/,
      ],
      [{ 'oauth-issuer': ISSUER, 'oauth-resource': `${RESOURCE}?x=1` }, {}, /the resource URI must not have a \?query/],
      [
        { 'oauth-issuer': ISSUER, 'oauth-resource': RESOURCE },
        { SSHGATE_OAUTH_ALGORITHMS: 'RS256,HS256' },
        /^SSHGATE_OAUTH_ALGORITHMS: HS256 is not an algorithm/,
      ],
      [{ 'oauth-issuer': ISSUER, 'oauth-resource': RESOURCE }, { SSHGATE_OAUTH_ALGORITHMS: 'none' }, /never none or an HMAC/],
      [
        { 'oauth-issuer': ISSUER, 'oauth-resource': RESOURCE },
        { SSHGATE_OAUTH_JWKS_URL: 'https://u:p@auth.example.com/k' },
        /must not carry a user or password/,
      ],
      [
        { 'oauth-issuer': ISSUER, 'oauth-resource': RESOURCE },
        { SSHGATE_OAUTH_NAME_CLAIM: 'user name' },
        'SSHGATE_OAUTH_NAME_CLAIM: a claim name has no spaces',
      ],
    ];
    for (const [flags, env, message] of cases) expect(() => authSettings(flags, env), JSON.stringify([flags, env])).toThrow(message);
  });

  it('takes http for an issuer and a resource on loopback only', () => {
    expect(authSettings({ 'oauth-issuer': 'http://127.0.0.1:9000', 'oauth-resource': 'http://[::1]:8080/mcp' }, {})?.oauth?.issuer).toBe(
      'http://127.0.0.1:9000',
    );
    expect(() => authSettings({ 'oauth-issuer': 'http://10.0.0.1:9000', 'oauth-resource': RESOURCE }, {})).toThrow(/https URL/);
  });

  it('refuses a tokens file given as the single static token (--token-file)', () => {
    const file = join(tempDir(), 'tokens.yml');
    writeFileSync(file, `tokens:\n  - { id: a, principal: alice, sha256: ${'a'.repeat(64)} }\n`);
    expect(() => httpOptions('127.0.0.1:8080', file, {})).toThrow(/without spaces/);
  });
});

describe('SSHGATE_MAX_TASKS', () => {
  it('takes a whole number from 10 to 1,000,000, and nothing else', () => {
    expect(maxTasksOf({})).toBeUndefined();
    expect(maxTasksOf({ SSHGATE_MAX_TASKS: '10000' })).toBe(10_000);
    for (const bad of ['9', '1000001', '1e4', '-5', '10.5', 'many'])
      expect(() => maxTasksOf({ SSHGATE_MAX_TASKS: bad }), bad).toThrow(/SSHGATE_MAX_TASKS must be a whole number/);
  });
});

describe('SSHGATE_MAX_CONNECTIONS_PER_CLIENT', () => {
  const token = { SSHGATE_TOKEN: 'a-token-of-enough-length' };
  it('raises the connections one client address may hold, up to the limit of all connections', () => {
    expect(httpOptions('127.0.0.1:8080', undefined, token)).not.toHaveProperty('maxConnectionsPerClient');
    expect(httpOptions('127.0.0.1:8080', undefined, { ...token, SSHGATE_MAX_CONNECTIONS_PER_CLIENT: '256' })).toMatchObject({
      maxConnectionsPerClient: 256,
    });
    for (const bad of ['0', '1025', '1e2', '-5', '64.5', 'many'])
      expect(() => httpOptions('127.0.0.1:8080', undefined, { ...token, SSHGATE_MAX_CONNECTIONS_PER_CLIENT: bad }), bad).toThrow(
        /SSHGATE_MAX_CONNECTIONS_PER_CLIENT must be a whole number from 1 to 1024 \(the connections in all, SSHGATE_MAX_CONNECTIONS\)/,
      );
  });
});

describe('SSHGATE_MAX_CONNECTIONS', () => {
  const token = { SSHGATE_TOKEN: 'a-token-of-enough-length' };
  it('sets the connections in all, and the per-client limit cannot exceed it', () => {
    expect(httpOptions('127.0.0.1:8080', undefined, token)).not.toHaveProperty('maxConnections');
    expect(httpOptions('127.0.0.1:8080', undefined, { ...token, SSHGATE_MAX_CONNECTIONS: '4096' })).toMatchObject({ maxConnections: 4096 });
    expect(
      httpOptions('127.0.0.1:8080', undefined, { ...token, SSHGATE_MAX_CONNECTIONS: '4096', SSHGATE_MAX_CONNECTIONS_PER_CLIENT: '2000' }),
    ).toMatchObject({ maxConnections: 4096, maxConnectionsPerClient: 2000 });
    expect(() =>
      httpOptions('127.0.0.1:8080', undefined, { ...token, SSHGATE_MAX_CONNECTIONS: '32', SSHGATE_MAX_CONNECTIONS_PER_CLIENT: '64' }),
    ).toThrow(/SSHGATE_MAX_CONNECTIONS_PER_CLIENT must be a whole number from 1 to 32/);
    for (const bad of ['0', '65537', '1e3', '-5', '10.5', 'all'])
      expect(() => httpOptions('127.0.0.1:8080', undefined, { ...token, SSHGATE_MAX_CONNECTIONS: bad }), bad).toThrow(
        /SSHGATE_MAX_CONNECTIONS must be a whole number from 1 to 65536/,
      );
  });
});
