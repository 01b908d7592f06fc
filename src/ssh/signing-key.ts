/**
 * A login key that signs as a decoded KeyObject. ssh2 signs with the key's PEM text, which
 * OpenSSL 3 decodes anew for every signature, and every new connection signs once: on Node 20
 * here an Ed25519 signature took about 2 ms from PEM and 0.2 ms from a KeyObject. The key is
 * decoded on its first signature and kept (for as long as the credential is: its parsed key is
 * kept already). The signature is what ssh2 makes: same key, same hash (the one ssh2 is asked
 * for, else the key type's own), and ssh2 still turns it into SSH's wire format.
 */
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import type { ParsedKey } from 'ssh2';

/** The hash ssh2 signs with when the caller names none (ssh2's keyParser: SYM_HASH_ALGO). */
const HASH_OF_TYPE: Record<string, string | null> = {
  'ssh-ed25519': null,
  'ecdsa-sha2-nistp256': 'sha256',
  'ecdsa-sha2-nistp384': 'sha384',
  'ecdsa-sha2-nistp521': 'sha512',
  'ssh-rsa': 'sha1',
};

/** The key, signing from a KeyObject; a key of another type is returned as it is. */
export function decodedOnce(key: ParsedKey): ParsedKey {
  const pem = key.getPrivatePEM();
  const ownHash = HASH_OF_TYPE[key.type];
  if (!pem || ownHash === undefined) return key;
  let decoded: KeyObject | undefined;
  // ssh2 knows a parsed key by properties it finds through the prototype, so the key stays one.
  return Object.create(key, {
    sign: {
      value(data: Buffer, hash?: string): Buffer | Error {
        try {
          decoded ??= createPrivateKey(pem);
          return sign(hash || ownHash, data, decoded);
        } catch (err) {
          return err as Error;
        }
      },
    },
  }) as ParsedKey;
}
