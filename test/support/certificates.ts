/**
 * OpenSSH certificates for tests: a CA and certificates made by the real `ssh-keygen -s`, and a
 * forge that builds certificate blobs field by field (signed by a node:crypto key), for shapes
 * ssh-keygen never writes: critical options on a host certificate, duplicates, hostile lengths.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** An SSH `string`: its length, then its bytes. */
export function str(b: Buffer | string): Buffer {
  const body = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

export function u64(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
}

/** A key pair made by ssh-keygen in `dir`: `name` and `name.pub`. */
export function keygen(dir: string, name: string, type = 'ed25519', bits?: number): { path: string; pub: string; blob: Buffer } {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', String(bits)] : []), '-N', '', '-C', name, '-f', path]);
  const pub = readFileSync(`${path}.pub`, 'utf8').trim();
  return { path, pub, blob: Buffer.from(pub.split(' ')[1] as string, 'base64') };
}

export interface SignOptions {
  host?: boolean;
  id?: string;
  principals?: string[];
  /** ssh-keygen's -V, e.g. `+1d`, `20200101:20200102`. */
  validity?: string;
  /** ssh-keygen's -O options. */
  options?: string[];
  /** The signature algorithm for an RSA CA (ssh-keygen -t with -s), e.g. `ssh-rsa`. */
  rsaAlgorithm?: string;
  serial?: number;
}

/** Signs `pubPath` with the CA at `caPath` (ssh-keygen -s); returns the certificate blob and its line. */
export function signKey(caPath: string, pubPath: string, o: SignOptions = {}): { blob: Buffer; line: string; path: string } {
  execFileSync('ssh-keygen', [
    '-q',
    '-s',
    caPath,
    '-I',
    o.id ?? 'test-cert',
    ...(o.host ? ['-h'] : []),
    ...(o.principals && o.principals.length > 0 ? ['-n', o.principals.join(',')] : []),
    ...(o.validity ? ['-V', o.validity] : []),
    ...(o.rsaAlgorithm ? ['-t', o.rsaAlgorithm] : []),
    ...(o.serial !== undefined ? ['-z', String(o.serial)] : []),
    ...(o.options ?? []).flatMap((x) => ['-O', x]),
    pubPath,
  ]);
  const path = pubPath.replace(/\.pub$/, '-cert.pub');
  const line = readFileSync(path, 'utf8').trim();
  return { blob: Buffer.from(line.split(' ')[1] as string, 'base64'), line, path };
}

/** An Ed25519 CA held by node:crypto, with its SSH public key blob. */
export function nodeCa(): { key: KeyObject; blob: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from((publicKey.export({ format: 'jwk' }) as { x: string }).x, 'base64url');
  return { key: privateKey, blob: Buffer.concat([str('ssh-ed25519'), str(raw)]) };
}

export interface Forge {
  /** The certified Ed25519 key (32 bytes). */
  pk?: Buffer;
  role?: number;
  keyId?: string;
  principals?: Buffer[];
  validAfter?: bigint;
  validBefore?: bigint;
  critical?: [string, Buffer][];
  extensions?: [string, Buffer][];
  ca?: { key: KeyObject; blob: Buffer };
}

/** An `ssh-ed25519-cert-v01@openssh.com` blob with the fields given, signed by `ca` (a new CA if none). */
export function forge(f: Forge = {}): Buffer {
  const ca = f.ca ?? nodeCa();
  const options = (list: [string, Buffer][]) => Buffer.concat(list.map(([n, d]) => Buffer.concat([str(n), str(d)])));
  const body = Buffer.concat([
    str('ssh-ed25519-cert-v01@openssh.com'),
    str(Buffer.alloc(32, 7)),
    str(f.pk ?? Buffer.alloc(32, 9)),
    u64(1n),
    u32(f.role ?? 2),
    str(f.keyId ?? 'forged'),
    str(Buffer.concat((f.principals ?? [Buffer.from('web1')]).map((p) => str(p)))),
    u64(f.validAfter ?? 0n),
    u64(f.validBefore ?? 0xffff_ffff_ffff_ffffn),
    str(options(f.critical ?? [])),
    str(options(f.extensions ?? [])),
    str(''),
    str(ca.blob),
  ]);
  return Buffer.concat([body, str(Buffer.concat([str('ssh-ed25519'), str(sign(null, body, ca.key))]))]);
}
