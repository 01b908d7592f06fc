/**
 * What an operator sets for HTTP callers: a tokens file, an OAuth issuer, or both. Each field is
 * described once, here; src/commands/serve-settings.ts reads them from flags and the environment.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { DEFAULTS } from '../defaults.js';

/**
 * The JWS algorithms an operator may allow: asymmetric ones only. `none` signs nothing, and an
 * HMAC (HS256…) would take the issuer's public key as its shared secret, which anyone can read.
 */
export const JWS_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

export function isLoopbackHostname(hostname: string): boolean {
  const h = hostname.replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}

/** An https URL, or http on loopback (a local issuer, a server for this machine only). */
function serverUrl(what: string) {
  return z.string().superRefine((s, ctx) => {
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      return ctx.addIssue({ code: 'custom', message: `${what} must be an absolute URL, such as https://auth.example.com` });
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHostname(url.hostname)))
      ctx.addIssue({ code: 'custom', message: `${what} must be an https URL (http only on loopback)` });
    if (url.username !== '' || url.password !== '') ctx.addIssue({ code: 'custom', message: `${what} must not carry a user or password` });
    if (url.hash !== '' || s.includes('#')) ctx.addIssue({ code: 'custom', message: `${what} must not have a #fragment` });
  });
}

const Claim = z
  .string()
  .min(1, 'a claim name must not be empty')
  .max(200, 'a claim name is at most 200 characters')
  .refine((s) => !/\s/.test(s), 'a claim name has no spaces');

export const OAuthSettings = z.strictObject({
  /** The authorization server, exactly as its tokens' `iss` claim names it. */
  issuer: serverUrl('the issuer'),
  /** This server's resource URI (RFC 8707/9728): what tokens must name as their audience. */
  resource: serverUrl('the resource URI').refine((s) => !s.includes('?'), 'the resource URI must not have a ?query'),
  /** The issuer's JWKS; without it, the `jwks_uri` of the issuer's metadata (RFC 8414). */
  jwksUrl: serverUrl('the JWKS URL').optional(),
  /** Where the roles are: a claim name, else a dotted path (realm_access.roles); a string is split on spaces. */
  rolesClaim: Claim.default(DEFAULTS.oauth.rolesClaim),
  /** The claim that names the principal. */
  nameClaim: Claim.default(DEFAULTS.oauth.nameClaim),
  algorithms: z
    .array(
      z.enum(JWS_ALGORITHMS, {
        error: (issue) =>
          `${String(issue.input)} is not an algorithm sshgate accepts for access tokens; expected one of ${JWS_ALGORITHMS.join(', ')} (never none or an HMAC)`,
      }),
    )
    .min(1, 'allow at least one algorithm')
    .default([...DEFAULTS.oauth.algorithms]),
});
export type OAuthSettings = z.infer<typeof OAuthSettings>;

export const AuthSettings = z
  .strictObject({
    /** The tokens file (tokens.yml). */
    tokensFile: z.string().min(1).optional(),
    oauth: OAuthSettings.optional(),
  })
  .refine((s) => s.tokensFile !== undefined || s.oauth !== undefined, 'give a tokens file, an OAuth issuer, or both');
export type AuthSettings = z.infer<typeof AuthSettings>;
