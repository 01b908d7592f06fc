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
import type { KexAlgorithm } from 'ssh2';

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
