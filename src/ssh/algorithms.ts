/**
 * The key exchanges sshgate offers, in order: ssh2's own list (curve25519 is always there on
 * Node 20), with ECDH on NIST P-256 moved first. Every OpenSSH since 5.7 accepts it, and it is the
 * cheapest exchange for both ends of a new connection: OpenSSH computes X25519 with its portable
 * reference code but P-256 with OpenSSL's optimised one, and ssh2 decodes a DER public key through
 * OpenSSL 3 for X25519 but not for ECDH. Measured on loopback OpenSSH 9.2, 50 connections at once,
 * alternated: the host's sshd spent about 6 ms less CPU per connection (25 vs 31 ms, on a loaded
 * 2-core machine) and ssh2 about 0.8 ms less. A host that leaves P-256 out (a hardened
 * KexAlgorithms) still agrees on curve25519, the next in line; no exchange is offered that ssh2
 * would not offer by default.
 */
import type { KexAlgorithm, ServerHostKeyAlgorithm } from 'ssh2';

export const KEX_ORDER: readonly KexAlgorithm[] = [
  'ecdh-sha2-nistp256',
  'curve25519-sha256',
  'curve25519-sha256@libssh.org',
  'ecdh-sha2-nistp384',
  'ecdh-sha2-nistp521',
  'diffie-hellman-group-exchange-sha256',
  'diffie-hellman-group14-sha256',
  'diffie-hellman-group15-sha512',
  'diffie-hellman-group16-sha512',
  'diffie-hellman-group17-sha512',
  'diffie-hellman-group18-sha512',
];

/**
 * The host key types sshgate can be shown, each with the signature algorithms that select it:
 * ssh2's default server host key list (sshgate does not change it), grouped by the key behind
 * them. A connection negotiates the first algorithm of that list the host offers; a key scan
 * asks for each type on its own, as ssh-keyscan does. ssh-dss is in none: ssh2 offers it only
 * when asked to.
 */
export const HOST_KEY_TYPES: readonly { keyType: string; algorithms: readonly ServerHostKeyAlgorithm[] }[] = [
  { keyType: 'ssh-ed25519', algorithms: ['ssh-ed25519'] },
  { keyType: 'ecdsa-sha2-nistp256', algorithms: ['ecdsa-sha2-nistp256'] },
  { keyType: 'ecdsa-sha2-nistp384', algorithms: ['ecdsa-sha2-nistp384'] },
  { keyType: 'ecdsa-sha2-nistp521', algorithms: ['ecdsa-sha2-nistp521'] },
  { keyType: 'ssh-rsa', algorithms: ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] },
];
