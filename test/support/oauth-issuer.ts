/**
 * A small OAuth authorization server on loopback, for the resource server's tests: its metadata
 * (RFC 8414, or OpenID Connect's), a JWKS of its own keys, and access tokens it signs. It can
 * rotate its key: the JWKS then lists only the new one.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

export interface TestIssuer {
  /** `http://127.0.0.1:PORT` plus the issuer path, as its tokens' `iss` says. */
  issuer: string;
  /** The key the JWKS lists now. */
  key: SigningKey;
  /** Every path requested, in order. */
  requests: string[];
  /** Signs `claims` (iss, iat, exp in 5 min and a jti by default; a claim set to undefined is left out). */
  mint(claims?: Record<string, unknown>, options?: { key?: SigningKey; header?: Record<string, unknown> }): Promise<string>;
  /** A new key, the only one the JWKS lists from now on; the old one is returned. */
  rotate(): Promise<SigningKey>;
  close(): Promise<void>;
}

let kids = 0;

export async function newSigningKey(alg = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid: `k${++kids}`, alg, privateKey, publicKey };
}

export async function startIssuer(
  options: { alg?: string; metadata?: 'oauth' | 'openid'; path?: string; claimsIssuer?: string } = {},
): Promise<TestIssuer> {
  const alg = options.alg ?? 'RS256';
  const path = options.path ?? '';
  let key = await newSigningKey(alg);
  const requests: string[] = [];
  let issuer = '';
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = req.url ?? '/';
      requests.push(url);
      const json = (body: unknown) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const wellKnown = options.metadata === 'openid' ? '/.well-known/openid-configuration' : '/.well-known/oauth-authorization-server';
      if (url === `${wellKnown}${path}`) return json({ issuer: options.claimsIssuer ?? issuer, jwks_uri: `${issuer}/jwks` });
      if (url === `${path}/jwks`) return json({ keys: [{ ...(await exportJWK(key.publicKey)), kid: key.kid, alg: key.alg, use: 'sig' }] });
      res.writeHead(404).end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return {
    issuer,
    get key() {
      return key;
    },
    requests,
    async mint(claims = {}, o = {}) {
      const signer = o.key ?? key;
      const now = Math.floor(Date.now() / 1000);
      const payload: JWTPayload = { iss: issuer, iat: now, exp: now + 300, jti: `jti-${Math.random().toString(36).slice(2)}`, ...claims };
      for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
      return new SignJWT(payload)
        .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'at+jwt', ...o.header })
        .sign(signer.privateKey);
    },
    async rotate() {
      const old = key;
      key = await newSigningKey(alg);
      return old;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
