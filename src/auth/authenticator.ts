/**
 * Who an HTTP caller is: the `Authorization` header in, a principal or the exact refusal out
 * (status, `WWW-Authenticate` as RFC 6750 §3 and RFC 9728 §5.1 have it, and an SshgateError). A
 * token of the tokens file is looked up first; a JWT that is none of them is checked as an OAuth
 * access token when an issuer is configured. Nothing here logs, and no message carries a token.
 */
import type { z } from 'zod';
import { SshgateError } from '../errors.js';
import type { Principal } from '../principal.js';
import { AccessTokens, OAUTH_TUNING, type OAuthTuning, type ProtectedResourceMetadata } from './oauth.js';
import { AuthSettings } from './settings.js';
import { TokenTable, type TokensReload } from './tokens.js';

export type AuthResult =
  | { ok: true; principal: Principal }
  /** 401: no credential or a bad one; 400: an Authorization header that is no bearer token. */
  | { ok: false; status: 400 | 401; wwwAuthenticate: string; error: SshgateError }
  /** 503: the issuer's keys cannot be had now, so the token could not be checked either way. */
  | { ok: false; status: 503; error: SshgateError };

export interface Authenticator {
  authenticate(authorization: string | undefined): Promise<AuthResult>;
  /** The RFC 9728 document to serve at each of `resourceMetadataPaths`; none without OAuth. */
  protectedResourceMetadata(): ProtectedResourceMetadata | undefined;
  /** `/.well-known/oauth-protected-resource/mcp` (RFC 9728 §3.1) and the bare path; empty without OAuth. */
  readonly resourceMetadataPaths: readonly string[];
  /** Rereads the tokens file, keeping the old tokens if the new file has a problem; undefined without a file. */
  reloadTokens(): TokensReload | undefined;
  /** Fetches the issuer's metadata and keys now: the problem, if any, for the log at start. */
  checkIssuer(): Promise<SshgateError | undefined>;
}

/** The longest bearer token looked at: far more than any JWT an issuer makes, far less than a flood. */
export const MAX_TOKEN_CHARS = 8192;
/** RFC 6750 §2.1's b64token. */
const BEARER_RE = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const JWT_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

/**
 * Loads the tokens file now (a ConfigError lists its problems); the issuer is asked for its keys
 * at the first access token, or by `checkIssuer`.
 */
export function createAuthenticator(input: z.input<typeof AuthSettings>, tuning: Partial<OAuthTuning> = {}): Authenticator {
  const parsed = AuthSettings.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'settings'}: ${i.message}`).join('; ');
    throw new SshgateError('invalid_config', `the HTTP authentication settings are not usable: ${problems}`);
  }
  const settings = parsed.data;
  const tokens = settings.tokensFile === undefined ? undefined : new TokenTable(settings.tokensFile);
  const oauth = settings.oauth === undefined ? undefined : new AccessTokens(settings.oauth, { ...OAUTH_TUNING, ...tuning });

  const hint = oauth
    ? `send "Authorization: Bearer <access token>" with a token from ${oauth.settings.issuer} for ${oauth.settings.resource}`
    : 'send "Authorization: Bearer <token>" with a token listed in the tokens file (sshgate token new makes one)';
  const challenge = (status: 400 | 401, error: SshgateError, code?: 'invalid_request' | 'invalid_token'): AuthResult => {
    const params = [oauth ? `resource_metadata="${oauth.metadataUrl.href}"` : 'realm="sshgate"'];
    if (code !== undefined) params.push(`error="${code}"`, `error_description="${quotable(error.message)}"`);
    return { ok: false, status, wwwAuthenticate: `Bearer ${params.join(', ')}`, error };
  };
  const invalid = (message: string) => challenge(401, new SshgateError('unauthorized', message, hint), 'invalid_token');

  return {
    async authenticate(authorization) {
      // RFC 6750 §3.1: a request with no credential, or another scheme, gets the challenge without an error code.
      if (authorization === undefined || authorization.trim() === '' || !/^bearer(\s|$)/i.test(authorization))
        return challenge(401, new SshgateError('unauthorized', 'a bearer token is required', hint));
      const m = BEARER_RE.exec(authorization);
      if (!m || (m[1] as string).length > MAX_TOKEN_CHARS) {
        const error = new SshgateError('unauthorized', 'the Authorization header is not "Bearer" and one token', hint);
        return challenge(400, error, 'invalid_request');
      }
      const token = m[1] as string;
      const match = tokens?.match(token);
      if (match?.kind === 'principal') return { ok: true, principal: match.principal };
      if (match?.kind === 'expired') return invalid(`token "${match.id}" expired at ${match.expiredAt.toISOString()}`);
      if (oauth && JWT_RE.test(token)) {
        const verdict = await oauth.verify(token);
        if (verdict.ok) return { ok: true, principal: verdict.principal };
        if (verdict.unavailable) {
          const error = new SshgateError(
            'connect_failed',
            verdict.message,
            'access tokens cannot be checked until the issuer answers; try again',
          );
          return { ok: false, status: 503, error };
        }
        return invalid(verdict.message);
      }
      return invalid(
        oauth ? 'the bearer token is neither a known token nor a valid access token' : 'the bearer token is not a known token',
      );
    },
    protectedResourceMetadata: () => oauth?.metadata(),
    resourceMetadataPaths: oauth?.metadataPaths ?? [],
    reloadTokens: () => tokens?.reload(),
    async checkIssuer() {
      const problem = await oauth?.check();
      return problem === undefined
        ? undefined
        : new SshgateError('connect_failed', problem, 'check the issuer URL and that sshgate can reach it');
    },
  };
}

/** A message as an RFC 6750 quoted string may hold it: printable ASCII, no `"` or `\`. */
function quotable(message: string): string {
  return message.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '');
}
