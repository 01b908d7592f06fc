/**
 * OpenSSH certificates (PROTOCOL.certkeys): parsed from untrusted bytes, their CA signature
 * verified with node:crypto, and host certificates judged as OpenSSH's client judges them, a little
 * stricter where noted (docs/certificates.md). ssh2 has no certificate support of its own; what it
 * needs from here is in ssh2-certificates.ts.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { mpintBody, sshStrings, WireError, WireReader } from './wire.js';

/** Each certificate key type, and the plain key type it certifies. DSA is not taken (OpenSSH dropped it). */
export const CERTIFIED_KEY_TYPE: Readonly<Record<string, string>> = {
  'ssh-ed25519-cert-v01@openssh.com': 'ssh-ed25519',
  'ecdsa-sha2-nistp256-cert-v01@openssh.com': 'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384-cert-v01@openssh.com': 'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521-cert-v01@openssh.com': 'ecdsa-sha2-nistp521',
  'ssh-rsa-cert-v01@openssh.com': 'ssh-rsa',
};

/**
 * The host key algorithms sshgate offers for a host known through a CA, before ssh2's own: the
 * certificate of each key type, RSA with SHA-2 only (OpenSSH 8.8 and later refuse ssh-rsa's SHA-1).
 */
export const HOST_CERTIFICATE_ALGORITHMS: readonly string[] = [
  'ssh-ed25519-cert-v01@openssh.com',
  'ecdsa-sha2-nistp256-cert-v01@openssh.com',
  'ecdsa-sha2-nistp384-cert-v01@openssh.com',
  'ecdsa-sha2-nistp521-cert-v01@openssh.com',
  'rsa-sha2-512-cert-v01@openssh.com',
  'rsa-sha2-256-cert-v01@openssh.com',
];

/**
 * The signature algorithm a key algorithm signs with: a certificate's is its key's
 * (`ssh-ed25519-cert-v01@openssh.com` → `ssh-ed25519`, `rsa-sha2-512-cert-v01@openssh.com` →
 * `rsa-sha2-512`); any other name is its own.
 */
export function signatureAlgorithm(keyAlgorithm: string): string {
  const m = /^(.+)-cert-v01@openssh\.com$/.exec(keyAlgorithm);
  return m ? (m[1] as string) : keyAlgorithm;
}

export function isCertificateType(name: string): boolean {
  return Object.hasOwn(CERTIFIED_KEY_TYPE, name);
}

export type CertificateRole = 'user' | 'host';

export interface Certificate {
  /** The certificate key type, e.g. `ssh-ed25519-cert-v01@openssh.com`. */
  type: string;
  /** The certified key as a plain public key blob (`ssh-ed25519` and its key), as known_hosts holds keys. */
  key: Buffer;
  serial: bigint;
  role: CertificateRole;
  keyId: string;
  principals: string[];
  /** Seconds since the epoch: valid when validAfter <= now < validBefore. */
  validAfter: bigint;
  validBefore: bigint;
  criticalOptions: Map<string, Buffer>;
  extensions: Map<string, Buffer>;
  /** The CA's public key blob. */
  signatureKey: Buffer;
  /** The signature blob: algorithm name and signature. */
  signature: Buffer;
  /** The bytes the signature covers: the certificate up to and including the signature key. */
  signed: Buffer;
}

/** The most a certificate may take: an RSA-16384 key certified by an RSA-16384 CA is under 8 KiB. */
export const MAX_CERTIFICATE_BYTES = 65_536;
/** OpenSSH's own bound on a certificate's principals (SSHKEY_CERT_MAX_PRINCIPALS). */
export const MAX_PRINCIPALS = 256;
/** RSA moduli OpenSSH accepts: at least 1024 bits (RequiredRSASize's default), at most 16384. */
const RSA_MIN_BYTES = 1024 / 8;
const RSA_MAX_BYTES = 16384 / 8;

const CURVES: Readonly<Record<string, { name: string; jwk: string; size: number; hash: string }>> = {
  'ecdsa-sha2-nistp256': { name: 'nistp256', jwk: 'P-256', size: 32, hash: 'sha256' },
  'ecdsa-sha2-nistp384': { name: 'nistp384', jwk: 'P-384', size: 48, hash: 'sha384' },
  'ecdsa-sha2-nistp521': { name: 'nistp521', jwk: 'P-521', size: 66, hash: 'sha512' },
};

/** A certificate blob read, its structure checked; its signature is not checked here (certificateSignatureProblem). */
export function parseCertificate(blob: Buffer): Certificate {
  if (blob.length > MAX_CERTIFICATE_BYTES)
    throw new WireError(`the certificate is ${blob.length} bytes, more than ${MAX_CERTIFICATE_BYTES}`);
  const r = new WireReader(blob);
  const type = r.text('the certificate type');
  // Own keys only: a type named "constructor" or "__proto__" must not find Object.prototype's.
  const plainType = isCertificateType(type) ? CERTIFIED_KEY_TYPE[type] : undefined;
  if (plainType === undefined) throw new WireError(`${JSON.stringify(type.slice(0, 64))} is not a certificate type sshgate takes`);
  r.bytes('the nonce');
  const key = readKeyFields(r, plainType);
  const serial = r.uint64('the serial');
  const roleNumber = r.uint32('the certificate role');
  if (roleNumber !== 1 && roleNumber !== 2) throw new WireError(`certificate role ${roleNumber} is neither user (1) nor host (2)`);
  const keyId = r.text('the key id');
  const principals = readPrincipals(r.bytes('the principals'));
  const validAfter = r.uint64('valid after');
  const validBefore = r.uint64('valid before');
  const criticalOptions = readOptions(r.bytes('the critical options'), 'critical option');
  const extensions = readOptions(r.bytes('the extensions'), 'extension');
  r.bytes('the reserved field');
  const signatureKey = r.bytes('the signature key');
  const signed = blob.subarray(0, r.offset);
  const signature = r.bytes('the signature');
  r.end('the certificate');
  return {
    type,
    key,
    serial,
    role: roleNumber === 1 ? 'user' : 'host',
    keyId,
    principals,
    validAfter,
    validBefore,
    criticalOptions,
    extensions,
    signatureKey: Buffer.from(signatureKey),
    signature: Buffer.from(signature),
    signed,
  };
}

/** A certificate's plain key blob, or the blob itself when it is not a certificate; undefined for a malformed certificate. */
export function certifiedKeyOf(blob: Buffer): Buffer | undefined {
  if (!isCertificateType(blobType(blob) ?? '')) return blob;
  try {
    return parseCertificate(blob).key;
  } catch {
    return undefined;
  }
}

/** The type name a public key blob starts with, if it starts with one. */
export function blobType(blob: Buffer): string | undefined {
  try {
    return new WireReader(blob).text('the key type');
  } catch {
    return undefined;
  }
}

/**
 * Why the certificate's CA signature does not hold, or undefined when it does: the CA key must be
 * a plain key (no chained certificates), signing with an algorithm OpenSSH's CASignatureAlgorithms
 * accepts by default (Ed25519, ECDSA, RSA with SHA-2; not ssh-rsa's SHA-1).
 */
export function certificateSignatureProblem(cert: Certificate): string | undefined {
  try {
    return verifySignature(cert.signatureKey, cert.signature, cert.signed) ? undefined : 'its CA signature does not verify';
  } catch (err) {
    return `its CA signature cannot be checked: ${(err as Error).message}`;
  }
}

/**
 * Why a host certificate does not vouch for `hostName` at `now` (seconds since the epoch), or
 * undefined when it does: a host certificate, valid now, naming the host among its principals (an
 * empty list, which OpenSSH takes as "any host", is refused), with no critical option (none is
 * defined for hosts, and an unknown one must be refused). The CA and its signature are checked
 * apart (certificateSignatureProblem, and the @cert-authority lines).
 */
export function hostCertificateProblem(cert: Certificate, hostName: string, now: bigint): string | undefined {
  if (cert.role !== 'host') return 'it is a user certificate, not a host certificate';
  const validity = validityProblem(cert, now);
  if (validity) return validity;
  if (cert.principals.length === 0) return 'it names no principal (sshgate does not take a host certificate valid for any host)';
  const name = hostName.toLowerCase();
  if (!cert.principals.includes(name)) {
    return `its principals (${shownList(cert.principals)}) do not include ${JSON.stringify(name)}, the host name sshgate connects to`;
  }
  if (cert.criticalOptions.size > 0)
    return `it carries critical options sshgate does not know (${shownList([...cert.criticalOptions.keys()])})`;
  return undefined;
}

/** Why the certificate is not valid at `now`, or undefined. */
export function validityProblem(cert: Certificate, now: bigint): string | undefined {
  if (now < cert.validAfter) return `it is not valid before ${timeText(cert.validAfter)}`;
  if (now >= cert.validBefore) return `it expired at ${timeText(cert.validBefore)}`;
  return undefined;
}

/** Now, in whole seconds since the epoch, as certificates count time. */
export function nowSeconds(): bigint {
  return BigInt(Math.floor(Date.now() / 1000));
}

/** A certificate time as a person reads it: ISO 8601 in UTC, or "forever". */
export function timeText(t: bigint): string {
  if (t >= 0xffff_ffff_ffff_ffffn) return 'forever';
  const ms = t * 1000n;
  return ms > 8_640_000_000_000_000n ? `${t} s after the epoch` : new Date(Number(ms)).toISOString().replace('.000Z', 'Z');
}

function shownList(names: string[]): string {
  const shown = names.slice(0, 8).map((n) => JSON.stringify(n.slice(0, 100)));
  return names.length > 8 ? `${shown.join(', ')} and ${names.length - 8} more` : shown.join(', ');
}

/** The key fields of a certificate of `plainType`, returned as that plain key's blob. */
function readKeyFields(r: WireReader, plainType: string): Buffer {
  if (plainType === 'ssh-ed25519') {
    const pk = r.bytes('the Ed25519 key');
    if (pk.length !== 32) throw new WireError(`the Ed25519 key is ${pk.length} bytes, not 32`);
    return sshStrings(plainType, pk);
  }
  const curve = CURVES[plainType];
  if (curve) {
    const name = r.text('the curve name');
    if (name !== curve.name) throw new WireError(`the curve ${JSON.stringify(name.slice(0, 64))} is not ${curve.name}`);
    const point = r.bytes('the ECDSA point');
    checkPoint(point, curve.size);
    return sshStrings(plainType, name, point);
  }
  const e = r.mpint('the RSA exponent');
  const n = r.mpint('the RSA modulus');
  checkRsa(e, n);
  return sshStrings(plainType, mpintBody(e), mpintBody(n));
}

function readPrincipals(raw: Buffer): string[] {
  const r = new WireReader(raw);
  const out: string[] = [];
  while (r.remaining > 0) {
    if (out.length === MAX_PRINCIPALS) throw new WireError(`more than ${MAX_PRINCIPALS} principals`);
    out.push(r.text('a principal'));
  }
  return out;
}

function readOptions(raw: Buffer, what: string): Map<string, Buffer> {
  const r = new WireReader(raw);
  const out = new Map<string, Buffer>();
  while (r.remaining > 0) {
    const name = r.text(`the name of a ${what}`);
    const data = r.bytes(`the data of ${what} ${JSON.stringify(name.slice(0, 64))}`);
    if (out.has(name)) throw new WireError(`${what} ${JSON.stringify(name.slice(0, 64))} appears twice`);
    out.set(name, Buffer.from(data));
  }
  return out;
}

function checkPoint(point: Buffer, size: number): void {
  // OpenSSH writes points uncompressed; a compressed one is not a key it made.
  if (point.length !== 1 + 2 * size || point[0] !== 4) throw new WireError('the ECDSA point is not an uncompressed point of its curve');
}

function checkRsa(e: Buffer, n: Buffer): void {
  if (n.length < RSA_MIN_BYTES || n.length > RSA_MAX_BYTES)
    throw new WireError(`the RSA modulus has ${n.length * 8} bits, outside 1024 to 16384`);
  if (e.length === 0 || e.length > 8 || ((e[e.length - 1] as number) & 1) === 0)
    throw new WireError('the RSA exponent is not a small odd number');
}

interface PlainKey {
  type: string;
  object: KeyObject;
  /** RSA: the modulus length in bytes, which a signature is padded to. */
  size: number;
}

/** A plain public key blob (no certificate) as a node:crypto key; throws on anything else. */
export function plainPublicKey(blob: Buffer): PlainKey {
  const r = new WireReader(blob);
  const type = r.text('the key type');
  if (type === 'ssh-ed25519') {
    const pk = r.bytes('the Ed25519 key');
    r.end('the key');
    if (pk.length !== 32) throw new WireError(`the Ed25519 key is ${pk.length} bytes, not 32`);
    return { type, object: jwkKey({ kty: 'OKP', crv: 'Ed25519', x: b64url(pk) }), size: 32 };
  }
  const curve = CURVES[type];
  if (curve) {
    const name = r.text('the curve name');
    const point = r.bytes('the ECDSA point');
    r.end('the key');
    if (name !== curve.name) throw new WireError(`the curve ${JSON.stringify(name.slice(0, 64))} is not ${curve.name}`);
    checkPoint(point, curve.size);
    const x = point.subarray(1, 1 + curve.size);
    const y = point.subarray(1 + curve.size);
    return { type, object: jwkKey({ kty: 'EC', crv: curve.jwk, x: b64url(x), y: b64url(y) }), size: curve.size };
  }
  if (type === 'ssh-rsa') {
    const e = r.mpint('the RSA exponent');
    const n = r.mpint('the RSA modulus');
    r.end('the key');
    checkRsa(e, n);
    return { type, object: jwkKey({ kty: 'RSA', n: b64url(n), e: b64url(e) }), size: n.length };
  }
  throw new WireError(`${JSON.stringify(type.slice(0, 64))} is not a key type sshgate takes as a CA key`);
}

/** Whether `signatureBlob` (algorithm name, then the signature) is `keyBlob`'s signature of `data`. */
export function verifySignature(keyBlob: Buffer, signatureBlob: Buffer, data: Buffer): boolean {
  const key = plainPublicKey(keyBlob);
  const r = new WireReader(signatureBlob);
  const algorithm = r.text('the signature algorithm');
  const sig = r.bytes('the signature');
  r.end('the signature blob');
  if (key.type === 'ssh-ed25519') {
    if (algorithm !== 'ssh-ed25519') throw new WireError(`an Ed25519 key does not sign with ${JSON.stringify(algorithm.slice(0, 64))}`);
    return sig.length === 64 && verify(null, data, key.object, sig);
  }
  const curve = CURVES[key.type];
  if (curve) {
    if (algorithm !== key.type) throw new WireError(`an ${key.type} key does not sign with ${JSON.stringify(algorithm.slice(0, 64))}`);
    const rs = new WireReader(sig);
    const rr = rs.mpint('the signature r');
    const ss = rs.mpint('the signature s');
    rs.end('the ECDSA signature');
    if (rr.length > curve.size || ss.length > curve.size) return false;
    const p1363 = Buffer.concat([leftPad(rr, curve.size), leftPad(ss, curve.size)]);
    return verify(curve.hash, data, { key: key.object, dsaEncoding: 'ieee-p1363' }, p1363);
  }
  const hash = algorithm === 'rsa-sha2-256' ? 'sha256' : algorithm === 'rsa-sha2-512' ? 'sha512' : undefined;
  if (hash === undefined) {
    throw new WireError(
      algorithm === 'ssh-rsa'
        ? 'the CA signed with ssh-rsa (SHA-1), which OpenSSH no longer accepts: sign with rsa-sha2-512'
        : `an RSA key does not sign with ${JSON.stringify(algorithm.slice(0, 64))}`,
    );
  }
  // OpenSSH pads a short RSA signature to the modulus length before verifying; so does this.
  if (sig.length > key.size) return false;
  return verify(hash, data, key.object, leftPad(sig, key.size));
}

function leftPad(b: Buffer, size: number): Buffer {
  return b.length >= size ? b : Buffer.concat([Buffer.alloc(size - b.length), b]);
}

function b64url(b: Buffer): string {
  return b.toString('base64url');
}

function jwkKey(jwk: Record<string, string>): KeyObject {
  try {
    return createPublicKey({ key: jwk, format: 'jwk' });
  } catch {
    throw new WireError('the key is not a valid key of its type');
  }
}

/**
 * A certificate as a `*-cert.pub` file holds it: `type base64 [comment]` on one line. The named
 * type must be the blob's own.
 */
export function parseCertificateLine(text: string): { blob: Buffer; cert: Certificate } {
  const line = text.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  const [type, b64] = (line ?? '').trim().split(/\s+/);
  if (!type || !b64) throw new WireError('expected one line: certificate-type base64 [comment]');
  const blob = Buffer.from(b64, 'base64');
  if (blob.toString('base64').replace(/=+$/, '') !== b64.replace(/=+$/, '')) throw new WireError('the certificate is not valid base64');
  const cert = parseCertificate(blob);
  if (cert.type !== type) throw new WireError(`the line says ${JSON.stringify(type.slice(0, 64))} but holds a ${cert.type}`);
  return { blob, cert };
}
