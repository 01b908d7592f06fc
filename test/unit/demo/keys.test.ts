import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { ed25519KeyPair } from '../../../src/demo/keys.js';

describe('the demo keys', () => {
  it('always parse, both halves: ssh2 alone writes about one malformed pair in 256', () => {
    // 2000 pairs: without the check, the chance that none is malformed is below 0.05 %.
    for (let i = 0; i < 2000; i++) {
      const pair = ed25519KeyPair();
      expect(ssh2.utils.parseKey(pair.private)).not.toBeInstanceOf(Error);
      const pub = ssh2.utils.parseKey(pair.public);
      expect(pub).not.toBeInstanceOf(Error);
      expect((pub as { getPublicSSH(): Buffer }).getPublicSSH().length).toBe(51);
    }
  });
});
