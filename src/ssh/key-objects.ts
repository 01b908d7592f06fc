/**
 * Node key objects for ssh2's verifications. ssh2 hands Node a public key as PEM text at every
 * verification, and OpenSSL parses the text every time: an Ed25519 verification took 191 µs with
 * the text against 109 with a key object. A new connection verifies twice with its host key (the
 * key exchange, the host keys' proof), and a reconnection again; the objects are kept by their
 * text. (The login key's signature goes through a key object too: signing-key.ts.)
 * ssh2-certificates.ts puts the call into ssh2's keyParser.js.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { setBounded } from '../bounded-map.js';

/** Public keys kept by their text (public, small): a fleet's host keys, met again at each reconnection. */
export const PUBLIC_KEY_OBJECTS = 1024;

const publicKeys = new Map<string, KeyObject>();

/** The key object of the public key `pem` (throws as Node's verify would on a text it cannot read). */
export function publicKeyObject(pem: string): KeyObject {
  let key = publicKeys.get(pem);
  if (key === undefined) {
    key = createPublicKey(pem);
    setBounded(publicKeys, pem, key, PUBLIC_KEY_OBJECTS);
  }
  return key;
}
