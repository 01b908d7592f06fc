/**
 * The tokens file at work: which entry a presented bearer token is, compared in constant time
 * against every entry's hash, and a reload that keeps the old table when the new file is bad.
 * Tokens are high-entropy random strings (`newToken`), so one SHA-256 of each is enough at rest:
 * no dictionary or brute force reaches a 256-bit secret, and a slow password hash would only
 * make every request slow.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { loadTokensFile, type LoadedToken } from '../config/load-tokens.js';
import { ConfigError } from '../errors.js';
import type { Principal } from '../principal.js';

/** What `newToken` makes: this prefix (secret scanners can look for it), then 32 random bytes in base64url. */
export const TOKEN_PREFIX = 'sshgate_';
export const TOKEN_BYTES = 32;

/** A new bearer token and the hash that goes in the tokens file. Only the caller ever holds the token. */
export function newToken(): { token: string; sha256: string } {
  const token = `${TOKEN_PREFIX}${randomBytes(TOKEN_BYTES).toString('base64url')}`;
  return { token, sha256: tokenHash(token) };
}

/** The hex SHA-256 of a token, as the tokens file stores it. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export type TokenMatch =
  { kind: 'principal'; principal: Principal } | { kind: 'expired'; id: string; expiredAt: Date } | { kind: 'unknown' };

export type TokensReload = { ok: true; tokens: number } | { ok: false; error: ConfigError };

interface Stored {
  entry: LoadedToken;
  digest: Buffer;
}

export class TokenTable {
  private stored: readonly Stored[];

  /** Loads the file; a ConfigError lists its problems. */
  constructor(readonly path: string) {
    this.stored = read(path);
  }

  get size(): number {
    return this.stored.length;
  }

  /** Reads the file again; a file with any problem leaves the tokens as they were. */
  reload(): TokensReload {
    try {
      this.stored = read(this.path);
      return { ok: true, tokens: this.stored.length };
    } catch (err) {
      if (err instanceof ConfigError) return { ok: false, error: err };
      throw err;
    }
  }

  /**
   * Which entry `token` is. Every entry's hash is compared, whatever matched before, so the time
   * taken says nothing about which entry, if any, came close.
   */
  match(token: string, now = Date.now()): TokenMatch {
    const digest = createHash('sha256').update(token, 'utf8').digest();
    let found: LoadedToken | undefined;
    for (const s of this.stored) if (timingSafeEqual(s.digest, digest) && found === undefined) found = s.entry;
    if (found === undefined) return { kind: 'unknown' };
    if (found.expiresAt !== undefined && now >= found.expiresAt)
      return { kind: 'expired', id: found.id, expiredAt: new Date(found.expiresAt) };
    return { kind: 'principal', principal: { name: found.principal, roles: found.roles, via: 'token', credentialId: found.id } };
  }
}

function read(path: string): Stored[] {
  return loadTokensFile(path).map((entry) => ({ entry, digest: Buffer.from(entry.sha256, 'hex') }));
}
