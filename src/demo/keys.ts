/** Throwaway SSH keys for the demo. */
import ssh2 from 'ssh2';

export interface KeyPair {
  /** OpenSSH private key (PEM-armoured). */
  private: string;
  /** `ssh-ed25519 AAAA…`. */
  public: string;
}

/**
 * An ed25519 pair that ssh2 and OpenSSH can read. ssh2 1.17's generateKeyPairSync strips leading
 * zero bytes off the public key, so about one pair in 256 comes out malformed (mscdex/ssh2#1390,
 * #1513) — the demo then failed at random. Both halves are parsed; a bad pair is made again.
 */
export function ed25519KeyPair(): KeyPair {
  for (;;) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    if (!(ssh2.utils.parseKey(pair.private) instanceof Error) && !(ssh2.utils.parseKey(pair.public) instanceof Error)) return pair;
  }
}
