/**
 * known_hosts in OpenSSH's format: plain and hashed (`|1|salt|hmac`) host names, `[host]:port`,
 * `*`/`?` wildcards, `!` negation, and the `@revoked` and `@cert-authority` markers. A host is
 * known when one of its applicable keys equals the key offered, or when it offers a host
 * certificate that an applicable CA signed and that holds for it now (certificates.ts); known with
 * other keys is a mismatch, never a match.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { globMatch } from '../glob.js';
import {
  blobType,
  certificateSignatureProblem,
  hostCertificateProblem,
  isCertificateType,
  nowSeconds,
  parseCertificate,
  type Certificate,
} from './certificates.js';

export interface KnownHostEntry {
  line: number;
  marker: 'revoked' | 'cert-authority' | undefined;
  patterns: string[];
  keyType: string;
  key: Buffer;
}

export interface KnownHosts {
  entries: KnownHostEntry[];
  /** Lines that could not be read, with why; they are ignored, as OpenSSH ignores them. */
  skipped: { line: number; reason: string }[];
}

export type HostKeyVerdict =
  | { status: 'match' }
  /**
   * `port22Line`: a line records the host for port 22, and it was looked up on another port.
   * `authorityLine`: a @cert-authority line applies to the host, which offered a plain key.
   * `certificate`: why the certificate the host offered does not make it known.
   */
  | { status: 'unknown'; port22Line?: number; authorityLine?: number; certificate?: string }
  /** `authority`: the revoked key is the CA that signed the offered certificate. */
  | { status: 'revoked'; offered: string; authority?: boolean }
  | { status: 'mismatch'; offered: string; expected: string[] }
  /** A host certificate that an applicable CA line (`line`) does not vouch for, and why. */
  | { status: 'certificate_refused'; reason: string; line?: number; keyId?: string };

export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** An SSH public key blob starts with its type as an SSH string: uint32 length, then the name. */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const len = blob.readUInt32BE(0);
  return len > 0 && len < 64 && blob.length >= 4 + len ? blob.subarray(4, 4 + len).toString('latin1') : 'unknown';
}

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` elsewhere. */
export function hostToken(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export function parseKnownHosts(text: string): KnownHosts {
  const entries: KnownHostEntry[] = [];
  const skipped: KnownHosts['skipped'] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift();
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else return void skipped.push({ line: i + 1, reason: `unknown marker ${m}` });
    }
    const [hosts, keyType, keyB64] = fields;
    if (!hosts || !keyType || !keyB64) return void skipped.push({ line: i + 1, reason: 'expected: hosts key-type base64-key' });
    const key = Buffer.from(keyB64, 'base64');
    if (key.length === 0 || key.toString('base64').replace(/=+$/, '') !== keyB64.replace(/=+$/, '')) {
      return void skipped.push({ line: i + 1, reason: 'the key is not valid base64' });
    }
    if (marker === 'cert-authority' && isCertificateType(keyType)) {
      return void skipped.push({ line: i + 1, reason: '@cert-authority names a certificate; a CA is a plain key' });
    }
    // As OpenSSH reads it (match_maybe_hashed): a field that starts with "|" is one hash, whole.
    entries.push({ line: i + 1, marker, patterns: hosts.startsWith('|') ? [hosts] : hosts.split(','), keyType, key });
  });
  return { entries, skipped };
}

/**
 * The entries that apply to `host` on `port`, under the name OpenSSH looks up (`[host]:port` off
 * 22), in the file's order. Every new connection asks, so a file of one line per host is looked up
 * through an index rather than matched line by line: at 1,000 hosts a scan is a million pattern
 * matches for one cold fan-out, and with hashed lines a million HMACs.
 */
export function entriesFor(known: KnownHosts, host: string, port: number): KnownHostEntry[] {
  const token = hostToken(host, port);
  const index = indexOf(known);
  const cached = index.answers.get(token);
  if (cached) return cached;
  const named = index.literal.get(token.toLowerCase()) ?? [];
  const matched = index.scanned.filter((e) => appliesTo(e.patterns, token));
  const found = matched.length === 0 ? named : named.length === 0 ? matched : [...named, ...matched].sort((a, b) => a.line - b.line);
  // The tokens asked for are the inventory's hosts (and jump hops): a bounded set, unless a file
  // is held across a very long run of new names; then the answers start over.
  if (index.answers.size >= MAX_ANSWERS) index.answers.clear();
  index.answers.set(token, found);
  return found;
}

/**
 * How entriesFor finds a token's entries: `literal` holds the lines whose every name is plain (no
 * wildcard, no negation, not hashed) under each name in lower case, as OpenSSH compares names;
 * `scanned` holds the rest, matched one by one; `answers` keeps what each token got.
 */
interface Index {
  literal: Map<string, KnownHostEntry[]>;
  scanned: KnownHostEntry[];
  answers: Map<string, KnownHostEntry[]>;
}

const MAX_ANSWERS = 100_000;

/** Built on first use; a parsed file is never changed (KnownHostsFile parses anew), so it stays right. */
const indexes = new WeakMap<KnownHosts, Index>();

function indexOf(known: KnownHosts): Index {
  let index = indexes.get(known);
  if (index) return index;
  index = { literal: new Map(), scanned: [], answers: new Map() };
  for (const e of known.entries) {
    const plain = e.patterns.every((p) => !p.startsWith('!') && !p.startsWith('|') && !p.includes('*') && !p.includes('?'));
    if (!plain) {
      index.scanned.push(e);
      continue;
    }
    for (const name of new Set(e.patterns.map((p) => p.toLowerCase()))) {
      const list = index.literal.get(name);
      if (list) list.push(e);
      else index.literal.set(name, [e]);
    }
  }
  indexes.set(known, index);
  return index;
}

/**
 * The verdict on the key `host` offered on `port`: a plain key is looked up; a host certificate is
 * judged (at `now`, seconds since the epoch) by verifyHostCertificate.
 */
export function verifyHostKey(known: KnownHosts, host: string, port: number, offered: Buffer, now = nowSeconds()): HostKeyVerdict {
  if (isCertificateType(blobType(offered) ?? '')) return verifyHostCertificate(known, host, port, offered, now);
  const applicable = entriesFor(known, host, port);
  if (applicable.some((e) => e.marker === 'revoked' && e.key.equals(offered))) {
    return { status: 'revoked', offered: fingerprint(offered) };
  }
  const verdict = verifyPlainKey(known, applicable, host, port, offered);
  const authority = applicable.find((e) => e.marker === 'cert-authority');
  return verdict.status === 'unknown' && authority ? { ...verdict, authorityLine: authority.line } : verdict;
}

/**
 * A host certificate, judged as OpenSSH's client judges one: refused when its key or its CA is
 * @revoked for the host; accepted when an applicable @cert-authority line holds its CA key, the CA
 * signature verifies, and it is a host certificate valid now naming `host` (certificates.ts);
 * otherwise its certified key is looked up as a plain key, so a host with a certificate that
 * sshgate cannot take is still known by a key line.
 */
export function verifyHostCertificate(known: KnownHosts, host: string, port: number, offered: Buffer, now: bigint): HostKeyVerdict {
  let cert: Certificate;
  try {
    cert = parseCertificate(offered);
  } catch (err) {
    return { status: 'certificate_refused', reason: `the certificate cannot be read: ${(err as Error).message}` };
  }
  const applicable = entriesFor(known, host, port);
  const revoked = applicable.filter((e) => e.marker === 'revoked');
  if (revoked.some((e) => e.key.equals(cert.key) || e.key.equals(offered))) return { status: 'revoked', offered: fingerprint(cert.key) };
  if (revoked.some((e) => e.key.equals(cert.signatureKey)))
    return { status: 'revoked', offered: fingerprint(cert.signatureKey), authority: true };
  const authorities = applicable.filter((e) => e.marker === 'cert-authority');
  const ca = authorities.find((e) => e.key.equals(cert.signatureKey));
  const problem = ca ? (certificateSignatureProblem(cert) ?? hostCertificateProblem(cert, host, now)) : undefined;
  if (ca && problem === undefined) return { status: 'match' };
  const plain = verifyPlainKey(known, applicable, host, port, cert.key);
  if (plain.status === 'match') return plain;
  const keyId = cert.keyId.slice(0, 200);
  if (ca) return { status: 'certificate_refused', reason: problem as string, line: ca.line, keyId };
  const signer = `it is signed by the CA ${fingerprint(cert.signatureKey)}`;
  if (authorities.length > 0) {
    const lines = authorities.map((e) => e.line).join(', ');
    return {
      status: 'certificate_refused',
      reason: `${signer}, which no @cert-authority line for this host names (line ${lines}: other CAs)`,
      line: authorities[0]?.line,
      keyId,
    };
  }
  return plain.status === 'unknown' ? { ...plain, certificate: `${signer}, and no @cert-authority line applies to this host` } : plain;
}

/** A plain key (not a certificate) against the key lines that apply (revocation checked already). */
function verifyPlainKey(known: KnownHosts, applicable: KnownHostEntry[], host: string, port: number, offered: Buffer): HostKeyVerdict {
  const keys = applicable.filter((e) => e.marker === undefined);
  if (keys.some((e) => e.key.equals(offered))) return { status: 'match' };
  if (keys.length === 0) {
    const on22 = port === 22 ? undefined : entriesFor(known, host, 22).find((e) => e.marker === undefined);
    return on22 ? { status: 'unknown', port22Line: on22.line } : { status: 'unknown' };
  }
  return { status: 'mismatch', offered: fingerprint(offered), expected: [...new Set(keys.map((e) => fingerprint(e.key)))] };
}

/**
 * A known_hosts line recording a key, as `accept-new` and `sshgate keyscan` append it: the host
 * named plainly, or hashed as OpenSSH's HashKnownHosts writes it (a fresh salt per line).
 */
export function knownHostsLine(host: string, port: number, keyType: string, key: Buffer, o: { hashed?: boolean } = {}): string {
  const token = hostToken(host, port);
  return `${o.hashed ? hashedName(token) : token} ${keyType} ${key.toString('base64')}\n`;
}

/** `|1|salt|HMAC-SHA1(salt, name)`, both base64: the name cannot be read back, only checked. */
export function hashedName(token: string, salt: Buffer = randomBytes(20)): string {
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(token).digest('base64')}`;
}

/**
 * Whether the file names its hosts hashed only (HashKnownHosts yes): then a line added to it is
 * hashed too, so that the file does not start listing the hosts it hid. A file with any plain
 * line, or with none, gets plain lines, as OpenSSH's default writes.
 */
export function usesHashedNames(known: KnownHosts): boolean {
  const named = known.entries.filter((e) => e.marker === undefined);
  return named.length > 0 && named.every((e) => e.patterns.every((p) => p.startsWith('|1|')));
}

function appliesTo(patterns: string[], token: string): boolean {
  let positive = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      // A negated name is a pattern, never a hash: OpenSSH reads "!|1|…" as a literal that matches nothing.
      if (globMatch(p.slice(1).toLowerCase(), token.toLowerCase())) return false;
    } else if (matchOne(p, token)) {
      positive = true;
    }
  }
  return positive;
}

function matchOne(pattern: string, token: string): boolean {
  if (pattern.startsWith('|1|')) {
    const salt = pattern.split('|')[2];
    if (!salt) return false;
    // ssh lower-cases the host name before it hashes it; the whole field must be that one hash.
    const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(token.toLowerCase()).digest('base64');
    return pattern === `|1|${salt}|${mac}`;
  }
  return globMatch(pattern.toLowerCase(), token.toLowerCase());
}
