/**
 * A login key that presents an OpenSSH user certificate: ssh2 sends what `getPublicSSH()` returns
 * as the public key and `type` as the algorithm, so the key answers with the certificate and its
 * algorithm, and signs as the certified key does (PROTOCOL.certkeys). The signature is returned in
 * SSH's wire format already, since ssh2 converts only the plain key types it knows.
 */
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import type { ParsedKey } from 'ssh2';
import { mpintBody, sshStrings } from './wire.js';

/**
 * The algorithm a certificate login is requested with: the certificate's type, but RSA with
 * SHA-512 (`rsa-sha2-512-cert-v01@openssh.com`, OpenSSH 7.8 and later), as OpenSSH 8.8 and later
 * refuse the SHA-1 of `ssh-rsa-cert-v01@openssh.com`.
 */
export function loginAlgorithm(certificateType: string): string {
  return certificateType === 'ssh-rsa-cert-v01@openssh.com' ? 'rsa-sha2-512-cert-v01@openssh.com' : certificateType;
}

const ECDSA_HASH: Readonly<Record<string, { hash: string; size: number }>> = {
  'ecdsa-sha2-nistp256': { hash: 'sha256', size: 32 },
  'ecdsa-sha2-nistp384': { hash: 'sha384', size: 48 },
  'ecdsa-sha2-nistp521': { hash: 'sha512', size: 66 },
};

/** The private key `key` presenting the certificate `blob` of type `certificateType`. */
export function certifiedLoginKey(key: ParsedKey, blob: Buffer, certificateType: string): ParsedKey {
  const pem = key.getPrivatePEM();
  const keyType = key.type;
  let decoded: KeyObject | undefined;
  // ssh2 knows a parsed key by properties it finds through the prototype, so the key stays one.
  return Object.create(key, {
    type: { value: loginAlgorithm(certificateType) },
    getPublicSSH: { value: () => blob },
    sign: {
      value(data: Buffer): Buffer | Error {
        try {
          decoded ??= createPrivateKey(pem);
          return signatureBody(decoded, keyType, data);
        } catch (err) {
          return err as Error;
        }
      },
    },
  }) as ParsedKey;
}

/**
 * The public half of an agent's certificate identity: `plain` is the certified key as ssh2 parsed
 * it; requests name the certificate. The agent signs (agent.ts).
 */
export function certifiedAgentKey(plain: ParsedKey, blob: Buffer, certificateType: string, comment: string): ParsedKey {
  return Object.create(plain, {
    type: { value: loginAlgorithm(certificateType) },
    getPublicSSH: { value: () => blob },
    comment: { value: comment },
  }) as ParsedKey;
}

/** The signature of `data` as an SSH signature blob holds it after the algorithm name. */
function signatureBody(key: KeyObject, keyType: string, data: Buffer): Buffer {
  if (keyType === 'ssh-ed25519') return sign(null, data, key);
  if (keyType === 'ssh-rsa') return sign('sha512', data, key);
  const ecdsa = ECDSA_HASH[keyType];
  if (!ecdsa) throw new Error(`a ${keyType} key cannot present a certificate here`);
  const rs = sign(ecdsa.hash, data, { key, dsaEncoding: 'ieee-p1363' });
  return sshStrings(mpintBody(rs.subarray(0, ecdsa.size)), mpintBody(rs.subarray(ecdsa.size)));
}
