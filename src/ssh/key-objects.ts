/**
 * Node key objects for ssh2's signatures. ssh2 hands Node each key as PEM text at every signature
 * and verification, and OpenSSL parses the text every time: an Ed25519 signature took 448 µs with
 * the text against 42 with a key object, a verification 205 against 105. A new connection signs
 * once (the login key) and verifies twice (the key exchange, the host keys' proof), so each of its
 * keys is parsed once instead. ssh2-certificates.ts puts these calls into ssh2's keyParser.js.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

/** Host keys kept by their text (public, small): a fleet's keys, met again at each reconnection. */
export const PUBLIC_KEY_OBJECTS = 1024;

// A private key's object lives as long as ssh2's key that holds its text, and no longer.
const privateKeys = new WeakMap<object, { pem: string; key: KeyObject }>();
const publicKeys = new Map<string, KeyObject>();

/** The key object of `owner`'s private key `pem` (throws as Node's sign would on a text it cannot read). */
export function privateKeyObject(owner: object, pem: string): KeyObject {
  const kept = privateKeys.get(owner);
  if (kept?.pem === pem) return kept.key;
  const key = createPrivateKey(pem);
  privateKeys.set(owner, { pem, key });
  return key;
}

/** The key object of the public key `pem` (throws as Node's verify would on a text it cannot read). */
export function publicKeyObject(pem: string): KeyObject {
  let key = publicKeys.get(pem);
  if (key === undefined) {
    key = createPublicKey(pem);
    if (publicKeys.size >= PUBLIC_KEY_OBJECTS) publicKeys.delete(publicKeys.keys().next().value as string);
    publicKeys.set(pem, key);
  }
  return key;
}
