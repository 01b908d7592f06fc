/**
 * The user certificate of a key credential: `certificate_path`, or else the file OpenSSH looks for
 * beside the key (`id_ed25519` → `id_ed25519-cert.pub`). It must be a user certificate of that
 * very key. It is read again whenever the file changes, so a short-lived certificate renewed in
 * place is used from the next connection on, without a reload. Its validity and principals are not
 * judged here: the host does, and a refusal names what it would have judged (refusalHint).
 */
import { readFileSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { ParsedKey } from 'ssh2';
import { keyPathProblem } from '../config/load-inventory.js';
import { SshgateError } from '../errors.js';
import { certifiedLoginKey } from './certificate-keys.js';
import { fingerprint } from './host-keys.js';
import { nowSeconds, parseCertificateLine, timeText, validityProblem, type Certificate } from './certificates.js';

/** The certificate file OpenSSH pairs with a key: `<key>-cert.pub`, beside it. */
export function certificateBeside(keyPath: string): string {
  return `${keyPath}-cert.pub`;
}

export interface LoginCertificate {
  /** The key presenting the certificate, and the certificate, as the file holds them now. */
  key: ParsedKey;
  cert: Certificate;
}

export class CertificateFile {
  private read: { stat: Stats; value: LoginCertificate } | undefined;

  /**
   * `path` as credentials.yml gives it (under the keys dir), `file` where it is; `key` the
   * credential's private key, already decrypted.
   */
  constructor(
    readonly path: string,
    private readonly file: string,
    private readonly key: ParsedKey,
    private readonly credential: string,
  ) {
    this.current();
  }

  /** The certificate as the file holds it now; a file that changed is read again. */
  current(): LoginCertificate {
    let stat: Stats;
    try {
      stat = statSync(this.file);
    } catch {
      throw this.problem('cannot be read', `put the certificate at ${this.file}, readable by sshgate`);
    }
    const last = this.read;
    if (last && last.stat.mtimeMs === stat.mtimeMs && last.stat.size === stat.size && last.stat.ino === stat.ino) return last.value;
    let parsed: ReturnType<typeof parseCertificateLine>;
    try {
      parsed = parseCertificateLine(readFileSync(this.file, 'utf8'));
    } catch (err) {
      throw this.problem(
        `is not an OpenSSH certificate sshgate can use (${(err as Error).message})`,
        'use the -cert.pub file that ssh-keygen -s wrote',
      );
    }
    const { blob, cert } = parsed;
    if (cert.role !== 'user') throw this.problem('is a host certificate', 'log in with a user certificate (ssh-keygen -s without -h)');
    if (!cert.key.equals(this.key.getPublicSSH())) {
      throw this.problem(
        `certifies another key (${fingerprint(cert.key)}), not the credential's (${fingerprint(this.key.getPublicSSH())})`,
        'put beside the key the certificate made for it, or point certificate_path at it',
      );
    }
    const value = { key: certifiedLoginKey(this.key, blob, cert.type), cert };
    this.read = { stat, value };
    return value;
  }

  private problem(what: string, hint: string): SshgateError {
    return new SshgateError('invalid_config', `the certificate of credential "${this.credential}" (${this.file}) ${what}`, hint);
  }
}

/** The credential's certificate file, if it names one or one lies beside its key; checked as the key path is. */
export function certificateFileFor(
  credential: { name: string; key_path?: string | undefined; certificate_path?: string | undefined },
  keysDir: string,
  key: ParsedKey,
): CertificateFile | undefined {
  const explicit = credential.certificate_path;
  const path = explicit ?? (credential.key_path ? certificateBeside(credential.key_path) : undefined);
  if (path === undefined) return undefined;
  const problem = keyPathProblem(path, keysDir);
  if (problem)
    throw new SshgateError('invalid_config', problem.replace(/^key_path/, 'certificate_path'), 'move the certificate under the keys dir');
  const file = join(keysDir, path);
  if (explicit === undefined && !exists(file)) return undefined;
  return new CertificateFile(path, file, key, credential.name);
}

/**
 * Why a host may have refused this certificate for `user`, as far as the certificate itself tells
 * (its validity now, its principals); undefined when it looks valid, and the CA is what to check.
 */
export function certificateRefusal(cert: Certificate, user: string): string | undefined {
  const validity = validityProblem(cert, nowSeconds());
  if (validity) return validity;
  if (cert.principals.length > 0 && !cert.principals.includes(user)) {
    return `its principals (${cert.principals.slice(0, 8).join(', ')}) do not include the user "${user}"`;
  }
  return undefined;
}

/** The certificate as a person names it in a message: its key id and validity. */
export function describeCertificate(cert: Certificate): string {
  return `key id "${cert.keyId.slice(0, 100)}", valid ${timeText(cert.validAfter)} to ${timeText(cert.validBefore)}`;
}

function exists(file: string): boolean {
  try {
    statSync(file);
    return true;
  } catch {
    return false;
  }
}
