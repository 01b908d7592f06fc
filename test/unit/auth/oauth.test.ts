import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { exportSPKI, SignJWT, base64url } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator, type AuthResult, type Authenticator } from '../../../src/auth/authenticator.js';
import { metadataCandidates, resourceMetadataUrl } from '../../../src/auth/oauth.js';
import { newToken } from '../../../src/auth/tokens.js';
import { newSigningKey, startIssuer, type TestIssuer } from '../../support/oauth-issuer.js';
import { tempDir } from '../../support/policy.js';

const RESOURCE = 'http://127.0.0.1:8080/mcp';
const METADATA = 'http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp';

let issuer: TestIssuer;
let auth: Authenticator;

beforeAll(async () => {
  issuer = await startIssuer();
  auth = createAuthenticator({ oauth: { issuer: issuer.issuer, resource: RESOURCE } });
});
afterAll(() => issuer.close());

const bearer = (token: string) => `Bearer ${token}`;
const now = () => Math.floor(Date.now() / 1000);

/** The refusal, with the token itself checked to appear nowhere in what a client or a log would see. */
function refused(result: AuthResult, token?: string) {
  expect(result.ok).toBe(false);
  if (result.ok) throw new Error('unreachable');
  const seen = JSON.stringify({ ...result, error: result.error.toJSON() });
  if (token !== undefined) {
    expect(seen).not.toContain(token);
    for (const part of token.split('.')) if (part.length > 8) expect(seen).not.toContain(part);
  }
  return {
    status: result.status,
    message: result.error.message,
    code: result.error.code,
    www: 'wwwAuthenticate' in result ? result.wwwAuthenticate : undefined,
  };
}

function invalidToken(result: AuthResult, token: string, message: string | RegExp) {
  const r = refused(result, token);
  expect(r.status).toBe(401);
  expect(r.code).toBe('unauthorized');
  expect(r.message).toMatch(message);
  expect(r.www).toMatch(new RegExp(`^Bearer resource_metadata="${METADATA}", error="invalid_token", error_description="[^"\\\\]+"$`));
}

describe('OAuth access tokens', () => {
  it('takes a valid token as the principal its sub names, with the roles of its roles claim', async () => {
    const token = await issuer.mint({ sub: 'alice', aud: RESOURCE, roles: ['ops', 'deploy'], jti: 'tok-1' });
    expect(await auth.authenticate(bearer(token))).toEqual({
      ok: true,
      principal: { name: 'alice', roles: ['ops', 'deploy'], via: 'oauth', credentialId: 'tok-1' },
    });
    const withoutJti = await issuer.mint({ sub: 'bob', aud: [RESOURCE, 'https://other.example'], jti: undefined });
    expect(await auth.authenticate(`bearer  ${withoutJti}`)).toEqual({
      ok: true,
      principal: { name: 'bob', roles: [], via: 'oauth', credentialId: 'bob' },
    });
  });

  it('reads the name and the roles from the claims it is told to: scope split on spaces, a nested list', async () => {
    const byScope = createAuthenticator({ oauth: { issuer: issuer.issuer, resource: RESOURCE, rolesClaim: 'scope', nameClaim: 'email' } });
    const token = await issuer.mint({
      sub: 'u-1',
      email: 'carol@example.com',
      aud: RESOURCE,
      scope: 'openid ssh.run  ssh:read https://x.example/y ssh.run',
    });
    // ssh:read and the URL are no role names, which no rule could name: they are left out.
    expect(await byScope.authenticate(bearer(token))).toMatchObject({
      ok: true,
      principal: { name: 'carol@example.com', roles: ['openid', 'ssh.run'] },
    });
    const nested = createAuthenticator({ oauth: { issuer: issuer.issuer, resource: RESOURCE, rolesClaim: 'realm_access.roles' } });
    const keycloak = await issuer.mint({ sub: 'dave', aud: RESOURCE, realm_access: { roles: ['ops'] } });
    expect(await nested.authenticate(bearer(keycloak))).toMatchObject({ ok: true, principal: { name: 'dave', roles: ['ops'] } });
  });

  it('refuses a token without a principal name as rules write them, or with roles that are no list of strings', async () => {
    for (const [claims, message] of [
      [{ sub: undefined }, 'the access token has no "sub" claim that is a string, to name the principal'],
      [{ sub: 42 }, 'the access token has no "sub" claim that is a string, to name the principal'],
      [{ sub: 'role:ops' }, /"sub" claim is no principal's name: "role:ops" is not a name/],
      [{ sub: 'auth0|5f7c' }, /"sub" claim is no principal's name: "auth0\|5f7c" is not a name/],
      [{ sub: '\u0430lice' }, /a letter outside ASCII could pass for another name/],
      [{ sub: 'eve', roles: ['ops', 2] }, /"roles" claim is neither a string nor a list of strings/],
      [{ sub: 'eve', roles: { ops: true } }, /"roles" claim is neither a string nor a list of strings/],
      [{ sub: 'eve', roles: Array.from({ length: 101 }, (_, i) => `r${i}`) }, /"roles" claim holds more than 100 roles/],
    ] as const) {
      const token = await issuer.mint({ aud: RESOURCE, ...claims });
      invalidToken(await auth.authenticate(bearer(token)), token, message);
    }
  });

  it('leaves out the values of the roles claim that are no role names, and repeats', async () => {
    const token = await issuer.mint({ sub: 'eve', aud: RESOURCE, roles: ['ops', 'has space', 'role:admin', '', 'ops', 'dev'] });
    expect(await auth.authenticate(bearer(token))).toMatchObject({ ok: true, principal: { name: 'eve', roles: ['ops', 'dev'] } });
  });

  it('refuses an expired token, and takes one expired within the clock skew', async () => {
    const expired = await issuer.mint({ sub: 'alice', aud: RESOURCE, iat: now() - 600, exp: now() - 60 });
    invalidToken(await auth.authenticate(bearer(expired)), expired, 'the access token has expired');
    const justNow = await issuer.mint({ sub: 'alice', aud: RESOURCE, exp: now() - 5 });
    expect((await auth.authenticate(bearer(justNow))).ok).toBe(true);
    const noExpiry = await issuer.mint({ sub: 'alice', aud: RESOURCE, exp: undefined });
    invalidToken(await auth.authenticate(bearer(noExpiry)), noExpiry, 'the access token has no "exp" claim');
  });

  it('refuses a token that is not valid yet', async () => {
    const early = await issuer.mint({ sub: 'alice', aud: RESOURCE, nbf: now() + 300 });
    invalidToken(await auth.authenticate(bearer(early)), early, 'the access token is not valid yet');
  });

  it('refuses a token issued for another resource, or for none', async () => {
    for (const aud of ['https://other.example/mcp', `${RESOURCE}/`, 'http://127.0.0.1:8080', ['a', 'b'], undefined]) {
      const token = await issuer.mint({ sub: 'alice', aud });
      invalidToken(await auth.authenticate(bearer(token)), token, aud === undefined ? /no "aud" claim/ : `its audience is not ${RESOURCE}`);
    }
  });

  it('refuses a token of another issuer, even one signed with a key this issuer publishes', async () => {
    const token = await issuer.mint({ sub: 'alice', aud: RESOURCE, iss: 'https://evil.example' });
    invalidToken(await auth.authenticate(bearer(token)), token, `issued by another issuer than ${issuer.issuer}`);
  });

  it('refuses alg none, with and without a signature', async () => {
    const enc = (o: object) => base64url.encode(JSON.stringify(o));
    const claims = enc({ iss: issuer.issuer, sub: 'alice', aud: RESOURCE, exp: now() + 300, roles: ['admin'] });
    for (const token of [`${enc({ alg: 'none', typ: 'JWT' })}.${claims}.`, `${enc({ alg: 'none', kid: issuer.key.kid })}.${claims}.c2ln`]) {
      invalidToken(
        await auth.authenticate(bearer(token)),
        token,
        'signed with an algorithm not allowed here (allowed: RS256, PS256, ES256, EdDSA)',
      );
    }
  });

  it('refuses HS256 signed with the public key as the secret', async () => {
    const pem = await exportSPKI(issuer.key.publicKey);
    const claims = { iss: issuer.issuer, sub: 'alice', aud: RESOURCE, exp: now() + 300 };
    for (const secret of [new TextEncoder().encode(pem), new TextEncoder().encode(pem.trim())]) {
      const token = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: issuer.key.kid }).sign(secret);
      invalidToken(await auth.authenticate(bearer(token)), token, /signed with an algorithm not allowed here/);
    }
  });

  it('refuses a token signed by a key the issuer does not publish, under any key id', async () => {
    const stranger = await newSigningKey();
    const unknownKid = await issuer.mint({ sub: 'alice', aud: RESOURCE }, { key: stranger });
    invalidToken(await auth.authenticate(bearer(unknownKid)), unknownKid, `signed by a key that ${issuer.issuer} does not publish`);
    const stolenKid = await issuer.mint({ sub: 'alice', aud: RESOURCE }, { key: { ...stranger, kid: issuer.key.kid } });
    invalidToken(await auth.authenticate(bearer(stolenKid)), stolenKid, 'the access token signature does not verify');
    const valid = await issuer.mint({ sub: 'alice', aud: RESOURCE });
    const [h, p, s] = valid.split('.') as [string, string, string];
    const tampered = `${h}.${base64url.encode(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), roles: ['admin'] }))}.${s}`;
    invalidToken(await auth.authenticate(bearer(tampered)), tampered, 'the access token signature does not verify');
  });

  it('follows a key rotation: tokens of the new key are taken after the refetch, the old key refused', async () => {
    const rotating = await startIssuer({ alg: 'ES256' });
    try {
      const a = createAuthenticator({ oauth: { issuer: rotating.issuer, resource: RESOURCE } }, { jwksCooldownMs: 200 });
      const before = await rotating.mint({ sub: 'alice', aud: RESOURCE });
      expect((await a.authenticate(bearer(before))).ok).toBe(true);
      expect(rotating.requests).toEqual(['/.well-known/oauth-authorization-server', '/jwks']);
      const old = await rotating.rotate();
      const after = await rotating.mint({ sub: 'alice', aud: RESOURCE });
      await new Promise((r) => setTimeout(r, 250));
      expect(await a.authenticate(bearer(after))).toMatchObject({ ok: true, principal: { name: 'alice' } });
      expect(rotating.requests.filter((r) => r === '/jwks')).toHaveLength(2);
      const oldKeyToken = await rotating.mint({ sub: 'alice', aud: RESOURCE }, { key: old });
      invalidToken(await a.authenticate(bearer(oldKeyToken)), oldKeyToken, `signed by a key that ${rotating.issuer} does not publish`);
      // Within the cooldown, unknown key ids do not make it fetch the JWKS again.
      for (let i = 0; i < 5; i++) await a.authenticate(bearer(oldKeyToken));
      expect(rotating.requests.filter((r) => r === '/jwks')).toHaveLength(2);
    } finally {
      await rotating.close();
    }
  });

  it('answers a request without a token with the challenge that names the resource metadata, and no error code', async () => {
    for (const header of [undefined, '', '   ', 'Basic YWxpY2U6c2VjcmV0', 'Token abc']) {
      const r = refused(await auth.authenticate(header));
      expect(r).toEqual({
        status: 401,
        code: 'unauthorized',
        message: 'a bearer token is required',
        www: `Bearer resource_metadata="${METADATA}"`,
      });
    }
  });

  it('answers a malformed Authorization header with 400 invalid_request', async () => {
    const token = await issuer.mint({ sub: 'alice', aud: RESOURCE });
    for (const header of [
      'Bearer',
      'Bearer ',
      `Bearer ${token} extra`,
      'Bearer tok"en',
      'Bearer tøken',
      `Bearer ${'a'.repeat(8193)}`,
      `Bearer\t${token}`,
    ]) {
      const r = refused(await auth.authenticate(header), token);
      expect(r.status, header.slice(0, 20)).toBe(400);
      expect(r.www).toBe(
        `Bearer resource_metadata="${METADATA}", error="invalid_request", error_description="the Authorization header is not 'Bearer' and one token"`,
      );
    }
  });

  it('refuses what is not a JWT, and a JWT that is no JSON', async () => {
    invalidToken(await auth.authenticate('Bearer not-a-jwt'), 'not-a-jwt', 'neither a known token nor a valid access token');
    const junk = `${base64url.encode('{"alg":"RS256"')}.${base64url.encode('x')}.${base64url.encode('y')}`;
    invalidToken(await auth.authenticate(bearer(junk)), junk, 'the access token is not a well-formed signed JWT');
  });

  it('publishes RFC 9728 metadata naming the issuer, at the well-known paths', () => {
    expect(auth.protectedResourceMetadata()).toEqual({
      resource: RESOURCE,
      authorization_servers: [issuer.issuer],
      bearer_methods_supported: ['header'],
      resource_name: 'sshgate',
    });
    expect(auth.resourceMetadataPaths).toEqual(['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']);
    expect(resourceMetadataUrl('https://gw.example.com').href).toBe('https://gw.example.com/.well-known/oauth-protected-resource');
    expect(resourceMetadataUrl('https://gw.example.com:8443/a/mcp').href).toBe(
      'https://gw.example.com:8443/.well-known/oauth-protected-resource/a/mcp',
    );
    expect(metadataCandidates('https://as.example.com/tenant1').map((u) => u.href)).toEqual([
      'https://as.example.com/.well-known/oauth-authorization-server/tenant1',
      'https://as.example.com/.well-known/openid-configuration/tenant1',
      'https://as.example.com/tenant1/.well-known/openid-configuration',
    ]);
  });
});

describe('the issuer, found and not', () => {
  it("finds the keys through OpenID Connect's metadata when RFC 8414's is missing, under an issuer path", async () => {
    const oidc = await startIssuer({ metadata: 'openid', path: '/realms/ops' });
    try {
      const a = createAuthenticator({ oauth: { issuer: oidc.issuer, resource: RESOURCE } });
      expect(await a.checkIssuer()).toBeUndefined();
      const token = await oidc.mint({ sub: 'alice', aud: RESOURCE });
      expect((await a.authenticate(bearer(token))).ok).toBe(true);
      expect(oidc.requests.slice(0, 2)).toEqual([
        '/.well-known/oauth-authorization-server/realms/ops',
        '/.well-known/openid-configuration/realms/ops',
      ]);
    } finally {
      await oidc.close();
    }
  });

  it('takes a configured JWKS URL without asking for metadata', async () => {
    const plain = await startIssuer();
    try {
      const a = createAuthenticator({ oauth: { issuer: plain.issuer, resource: RESOURCE, jwksUrl: `${plain.issuer}/jwks` } });
      expect((await a.authenticate(bearer(await plain.mint({ sub: 'alice', aud: RESOURCE })))).ok).toBe(true);
      expect(plain.requests).toEqual(['/jwks']);
    } finally {
      await plain.close();
    }
  });

  it('refuses metadata that names another issuer: 503, nothing is taken', async () => {
    const liar = await startIssuer({ claimsIssuer: 'https://real.example' });
    try {
      const a = createAuthenticator({ oauth: { issuer: liar.issuer, resource: RESOURCE } });
      const token = await liar.mint({ sub: 'alice', aud: RESOURCE });
      const r = refused(await a.authenticate(bearer(token)), token);
      expect(r).toMatchObject({ status: 503, code: 'connect_failed', www: undefined });
      expect(r.message).toContain('names the issuer "https://real.example", not');
      expect((await a.checkIssuer())?.message).toContain('names the issuer "https://real.example"');
    } finally {
      await liar.close();
    }
  });

  it('answers 503 while the issuer is unreachable, asking it again only after the cooldown', async () => {
    const port = await freePort();
    const a = createAuthenticator({ oauth: { issuer: `http://127.0.0.1:${port}`, resource: RESOURCE } });
    const token = await issuer.mint({ sub: 'alice', aud: RESOURCE });
    const r = refused(await a.authenticate(bearer(token)), token);
    expect(r).toMatchObject({ status: 503, code: 'connect_failed' });
    expect(r.message).toMatch(new RegExp(`metadata of http://127.0.0.1:${port} could not be read from .*ECONNREFUSED`));
    expect((await a.checkIssuer())?.message).toBe(r.message);
  });
});

describe('the tokens file and OAuth together', () => {
  it('takes a token of the file and an access token alike; the file comes first', async () => {
    const { token, sha256 } = newToken();
    const file = join(tempDir(), 'tokens.yml');
    writeFileSync(file, `tokens:\n  - { id: ci, principal: ci-bot, roles: [ci], sha256: ${sha256} }\n`);
    const both = createAuthenticator({ tokensFile: file, oauth: { issuer: issuer.issuer, resource: RESOURCE } });
    expect(await both.authenticate(bearer(token))).toEqual({
      ok: true,
      principal: { name: 'ci-bot', roles: ['ci'], via: 'token', credentialId: 'ci' },
    });
    const jwt = await issuer.mint({ sub: 'alice', aud: RESOURCE, jti: 'j1' });
    expect(await both.authenticate(bearer(jwt))).toMatchObject({
      ok: true,
      principal: { name: 'alice', via: 'oauth', credentialId: 'j1' },
    });
    expect(both.reloadTokens()).toEqual({ ok: true, tokens: 1 });
  });

  it('with the tokens file alone, challenges with realm="sshgate", and names an expired token by its id only', async () => {
    const { token, sha256 } = newToken();
    const file = join(tempDir(), 'tokens.yml');
    writeFileSync(file, `tokens:\n  - { id: old-ci, principal: ci-bot, sha256: ${sha256}, expires: 2020-01-01 }\n`);
    const only = createAuthenticator({ tokensFile: file });
    expect(only.protectedResourceMetadata()).toBeUndefined();
    expect(only.resourceMetadataPaths).toEqual([]);
    expect(await only.checkIssuer()).toBeUndefined();
    expect(refused(await only.authenticate(undefined)).www).toBe('Bearer realm="sshgate"');
    const r = refused(await only.authenticate(bearer(token)), token);
    expect(r).toEqual({
      status: 401,
      code: 'unauthorized',
      message: 'token "old-ci" expired at 2020-01-01T00:00:00.000Z',
      www: `Bearer realm="sshgate", error="invalid_token", error_description="token 'old-ci' expired at 2020-01-01T00:00:00.000Z"`,
    });
    const jwt = await issuer.mint({ sub: 'alice', aud: RESOURCE });
    expect(refused(await only.authenticate(bearer(jwt)), jwt).message).toBe('the bearer token is not a known token');
  });

  it('refuses settings that cannot work, naming the field', () => {
    expect(() => createAuthenticator({})).toThrow(/give a tokens file, an OAuth issuer, or both/);
    expect(() => createAuthenticator({ oauth: { issuer: 'http://auth.example.com', resource: RESOURCE } })).toThrow(
      /oauth\.issuer: the issuer must be an https URL \(http only on loopback\)/,
    );
    expect(() => createAuthenticator({ oauth: { issuer: issuer.issuer, resource: RESOURCE, algorithms: ['HS256'] as never } })).toThrow(
      /oauth\.algorithms\.0: HS256 is not an algorithm sshgate accepts/,
    );
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
