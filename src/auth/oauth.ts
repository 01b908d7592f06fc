/**
 * OAuth 2.1 access tokens, as a resource server checks them: a JWT signed by a key of the
 * issuer's JWKS with an allowed algorithm, issued by the configured issuer for this server's
 * resource URI (its audience), within its lifetime give or take a small clock skew. The principal
 * and its roles come from configured claims. jose does the JOSE work; its remote key set caches
 * the JWKS and refetches it for a key id it does not know (key rotation), at most once per
 * cooldown.
 */
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { callerNameProblem, ROLE_NAME_RE } from '../config/file-formats.js';
import { DEFAULTS } from '../defaults.js';
import { clip } from '../errors.js';
import type { Principal } from '../principal.js';
import { isLoopbackHostname, type OAuthSettings } from './settings.js';

/** Timings, in their defaults' units turned to ms; tests shorten the cooldown to see a rotation. */
export interface OAuthTuning {
  jwksCooldownMs: number;
  jwksMaxAgeMs: number;
  fetchTimeoutMs: number;
  clockSkewSeconds: number;
}

export const OAUTH_TUNING: OAuthTuning = {
  jwksCooldownMs: DEFAULTS.oauth.jwksCooldownSeconds * 1000,
  jwksMaxAgeMs: DEFAULTS.oauth.jwksMaxAgeSeconds * 1000,
  fetchTimeoutMs: DEFAULTS.oauth.fetchTimeoutSeconds * 1000,
  clockSkewSeconds: DEFAULTS.oauth.clockSkewSeconds,
};

/** RFC 9728 §2: what a client reads to learn which authorization server issues tokens for us. */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  bearer_methods_supported: string[];
  resource_name: string;
}

export type Verdict =
  | { ok: true; principal: Principal }
  /** The token is no good: 401 with `error="invalid_token"`. */
  | { ok: false; unavailable: false; message: string }
  /** The issuer's keys could not be had, so no token can be checked now: 503. */
  | { ok: false; unavailable: true; message: string };

/** The issuer's metadata and key set are small; anything larger is refused unread. */
const MAX_DOCUMENT_BYTES = 256 * 1024;
const PATH = '/.well-known/oauth-protected-resource';
/** As many roles as a tokens-file entry may have. */
const MAX_ROLES = 100;

/**
 * RFC 9728 §3.1: the metadata of `https://host/mcp` is at
 * `https://host/.well-known/oauth-protected-resource/mcp`.
 */
export function resourceMetadataUrl(resource: string): URL {
  const url = new URL(resource);
  return new URL(`${PATH}${url.pathname === '/' ? '' : url.pathname}`, url.origin);
}

class IssuerUnavailable extends Error {}

export class AccessTokens {
  readonly metadataUrl: URL;
  private keys: JWTVerifyGetKey | undefined;
  private discovering: Promise<JWTVerifyGetKey> | undefined;
  private failure: { at: number; message: string } | undefined;

  constructor(
    readonly settings: OAuthSettings,
    private readonly tuning: OAuthTuning = OAUTH_TUNING,
  ) {
    this.metadataUrl = resourceMetadataUrl(settings.resource);
  }

  /** The paths to serve `metadata()` at: RFC 9728's, and the bare one some clients try first. */
  get metadataPaths(): string[] {
    return [...new Set([this.metadataUrl.pathname, PATH])];
  }

  metadata(): ProtectedResourceMetadata {
    return {
      resource: this.settings.resource,
      authorization_servers: [this.settings.issuer],
      bearer_methods_supported: ['header'],
      resource_name: 'sshgate',
    };
  }

  async verify(token: string): Promise<Verdict> {
    let keys: JWTVerifyGetKey;
    try {
      keys = await this.keySet();
    } catch (err) {
      return { ok: false, unavailable: true, message: (err as Error).message };
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: this.settings.issuer,
        audience: this.settings.resource,
        algorithms: this.settings.algorithms,
        clockTolerance: this.tuning.clockSkewSeconds,
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      return refusal(err, this.settings);
    }
    return this.principalOf(payload);
  }

  /** Fetches the issuer's metadata and keys now; the problem if that fails, for the log at start. */
  async check(): Promise<string | undefined> {
    try {
      const keys = await this.keySet();
      await (keys as ReturnType<typeof createRemoteJWKSet>).reload();
      return undefined;
    } catch (err) {
      return err instanceof IssuerUnavailable ? err.message : `the JWKS of ${this.settings.issuer} could not be read: ${reason(err)}`;
    }
  }

  private principalOf(payload: JWTPayload): Verdict {
    const { nameClaim, rolesClaim } = this.settings;
    const invalid = (message: string): Verdict => ({ ok: false, unavailable: false, message });
    const name = claimAt(payload, nameClaim);
    if (typeof name !== 'string') return invalid(`the access token has no "${nameClaim}" claim that is a string, to name the principal`);
    const problem = callerNameProblem(name);
    if (problem !== undefined) return invalid(`the access token's "${nameClaim}" claim is no principal's name: ${problem}`);
    const raw = claimAt(payload, rolesClaim);
    const list = raw === undefined ? [] : typeof raw === 'string' ? raw.split(/\s+/).filter(Boolean) : raw;
    if (!Array.isArray(list) || !list.every((r): r is string => typeof r === 'string'))
      return invalid(`the access token's "${rolesClaim}" claim is neither a string nor a list of strings`);
    // A value that is no role's name (a scope such as ssh:run, a URL) is left out: no rule can name it.
    const roles = [...new Set(list.filter((r) => ROLE_NAME_RE.test(r)))];
    if (roles.length > MAX_ROLES) return invalid(`the access token's "${rolesClaim}" claim holds more than ${MAX_ROLES} roles`);
    const id = typeof payload.jti === 'string' && payload.jti !== '' ? payload.jti : payload.sub;
    return {
      ok: true,
      principal: { name, roles, via: 'oauth', ...(id !== undefined && id !== '' ? { credentialId: id } : {}) },
    };
  }

  /**
   * The issuer's key set, found once; after a failure the next attempt waits out the cooldown,
   * so callers without a valid token cannot make sshgate hammer the issuer.
   */
  private keySet(): Promise<JWTVerifyGetKey> {
    if (this.keys) return Promise.resolve(this.keys);
    if (this.failure && Date.now() - this.failure.at < this.tuning.jwksCooldownMs)
      return Promise.reject(new IssuerUnavailable(this.failure.message));
    this.discovering ??= this.jwksUrl()
      .then((url) => {
        this.keys = createRemoteJWKSet(url, {
          timeoutDuration: this.tuning.fetchTimeoutMs,
          cooldownDuration: this.tuning.jwksCooldownMs,
          cacheMaxAge: this.tuning.jwksMaxAgeMs,
        });
        this.failure = undefined;
        return this.keys;
      })
      .catch((err: unknown) => {
        const message =
          err instanceof IssuerUnavailable ? err.message : `the metadata of ${this.settings.issuer} could not be read: ${reason(err)}`;
        this.failure = { at: Date.now(), message };
        throw new IssuerUnavailable(message);
      })
      .finally(() => (this.discovering = undefined));
    return this.discovering;
  }

  /** The configured JWKS URL, else the `jwks_uri` of the issuer's metadata (RFC 8414, or OpenID Connect's). */
  private async jwksUrl(): Promise<URL> {
    if (this.settings.jwksUrl !== undefined) return new URL(this.settings.jwksUrl);
    const { issuer } = this.settings;
    const tried: string[] = [];
    for (const url of metadataCandidates(issuer)) {
      const answer = await fetchJson(url, this.tuning.fetchTimeoutMs).catch((err: unknown) => {
        throw new IssuerUnavailable(`the metadata of ${issuer} could not be read from ${url.href}: ${reason(err)}`);
      });
      if (answer.status !== 200) {
        tried.push(`${url.href} (${answer.status})`);
        continue;
      }
      const doc = answer.json as { issuer?: unknown; jwks_uri?: unknown } | null;
      if (typeof doc !== 'object' || doc === null) throw new IssuerUnavailable(`${url.href} is not a metadata document`);
      if (doc.issuer !== issuer)
        throw new IssuerUnavailable(
          `${url.href} names the issuer ${clip(JSON.stringify(doc.issuer) ?? 'none')}, not ${issuer}: refused (RFC 8414 §3.3)`,
        );
      if (typeof doc.jwks_uri !== 'string') throw new IssuerUnavailable(`${url.href} has no jwks_uri`);
      let jwks: URL;
      try {
        jwks = new URL(doc.jwks_uri);
      } catch {
        throw new IssuerUnavailable(`${url.href} has a jwks_uri that is no URL`);
      }
      if (jwks.protocol !== 'https:' && !(jwks.protocol === 'http:' && isLoopbackHostname(jwks.hostname)))
        throw new IssuerUnavailable(`${url.href} has a jwks_uri that is not https`);
      return jwks;
    }
    throw new IssuerUnavailable(`no metadata for ${issuer}: tried ${tried.join(', ')}`);
  }
}

/**
 * Where an issuer's metadata may be: RFC 8414's well-known URI (inserted before the issuer's
 * path), then OpenID Connect's (inserted, and appended to the path as OIDC Discovery has it).
 */
export function metadataCandidates(issuer: string): URL[] {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  const urls = [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}/.well-known/openid-configuration${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ];
  return [...new Set(urls)].map((u) => new URL(u));
}

async function fetchJson(url: URL, timeoutMs: number): Promise<{ status: number; json?: unknown }> {
  const res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  if (res.status !== 200 || res.body === null) {
    await res.body?.cancel();
    return { status: res.status };
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = (await reader.read()) as { done: boolean; value?: Uint8Array };
    if (done || value === undefined) break;
    size += value.byteLength;
    if (size > MAX_DOCUMENT_BYTES) {
      await reader.cancel();
      throw new Error(`the answer is over ${MAX_DOCUMENT_BYTES} bytes`);
    }
    chunks.push(value);
  }
  try {
    return { status: 200, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch {
    throw new Error('the answer is not JSON');
  }
}

/** A claim by its name, else by a dotted path through objects (`realm_access.roles`). */
function claimAt(payload: JWTPayload, claim: string): unknown {
  if (Object.hasOwn(payload, claim)) return payload[claim];
  let at: unknown = payload;
  for (const key of claim.split('.')) {
    if (typeof at !== 'object' || at === null || Array.isArray(at) || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

/** Why jose refused a token, in words that name no part of it. */
function refusal(err: unknown, settings: OAuthSettings): Verdict {
  const invalid = (message: string): Verdict => ({ ok: false, unavailable: false, message });
  if (!(err instanceof errors.JOSEError))
    return { ok: false, unavailable: true, message: `the JWKS of ${settings.issuer} could not be read: ${reason(err)}` };
  switch (err.code) {
    case 'ERR_JWT_EXPIRED':
      return invalid('the access token has expired');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const { claim, reason: why } = err as errors.JWTClaimValidationFailed;
      if (why === 'missing') return invalid(`the access token has no "${claim}" claim`);
      if (claim === 'iss') return invalid(`the access token was issued by another issuer than ${settings.issuer}`);
      if (claim === 'aud') return invalid(`the access token is for another resource: its audience is not ${settings.resource}`);
      if (claim === 'nbf') return invalid('the access token is not valid yet');
      return invalid(`the access token's "${claim}" claim is not acceptable`);
    }
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return invalid(`the access token is signed with an algorithm not allowed here (allowed: ${settings.algorithms.join(', ')})`);
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return invalid(`the access token is signed by a key that ${settings.issuer} does not publish`);
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return invalid('the access token signature does not verify');
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
    case 'ERR_JOSE_GENERIC':
      return { ok: false, unavailable: true, message: `the JWKS of ${settings.issuer} could not be read: ${err.message}` };
    default:
      return invalid('the access token is not a well-formed signed JWT');
  }
}

function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === 'TimeoutError') return 'no answer in time';
  const code = (err.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? `${err.message} (${code})` : err.message;
}
