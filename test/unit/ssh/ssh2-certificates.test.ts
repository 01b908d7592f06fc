import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { HUNKS, PATCHED_SSH2_VERSION, patchedSources } from '../../../src/ssh/ssh2-certificates.js';
import { loadSsh2, ssh2CertificatesUnavailable } from '../../../src/ssh/ssh2.js';

const require = createRequire(import.meta.url);
const lib = join(dirname(require.resolve('ssh2/package.json')), 'lib');
const installed = (JSON.parse(readFileSync(join(lib, '..', 'package.json'), 'utf8')) as { version: string }).version;
const read = (file: string) => readFileSync(join(lib, file), 'utf8');

describe("ssh2's certificate changes", () => {
  it('apply, each hunk exactly once, to the ssh2 that package-lock.json installs', () => {
    expect(installed).toBe(PATCHED_SSH2_VERSION);
    const sources = patchedSources(installed, read);
    expect(typeof sources).not.toBe('string');
    for (const { file, hunks } of HUNKS) {
      const text = (sources as Map<string, string>).get(file) as string;
      for (const [, replace] of hunks) expect(text).toContain(replace);
    }
  });

  it("name, in the wrong-signature error, the algorithm they compared with (the certified key's)", () => {
    const kex = (patchedSources(installed, read) as Map<string, string>).get('protocol/kex.js') as string;
    const check = kex.slice(kex.indexOf('if (sigType !== '), kex.indexOf("'handshake'", kex.indexOf('if (sigType !== ')));
    expect(check).toContain('if (sigType !== sigExpected)');
    expect(check).toContain('expected: ${sigExpected}');
    expect(check).not.toContain('negotiated.serverHostKey}');
  });

  it('leave ssh2 as installed when the version differs, or a hunk matches nowhere or twice', () => {
    expect(patchedSources('1.18.0', read)).toMatch(/ssh2 1\.18\.0 is installed/);
    const first = HUNKS.find((h) => h.file === 'protocol/kex.js')?.hunks[1]?.[0] as string;
    expect(patchedSources(installed, (f) => (f === 'protocol/kex.js' ? read(f).replace(first, '') : read(f)))).toMatch(
      /kex\.js does not hold, exactly once/,
    );
    expect(patchedSources(installed, (f) => (f === 'protocol/kex.js' ? read(f) + first : read(f)))).toMatch(
      /kex\.js does not hold, exactly once/,
    );
  });

  it('are in place once ssh2 is loaded, and certificate names are algorithms ssh2 takes', async () => {
    const ssh2 = await loadSsh2();
    expect(ssh2CertificatesUnavailable()).toBeUndefined();
    const kex = require.cache[join(lib, 'protocol/kex.js')] as unknown as { sshgateCertificates?: unknown };
    expect(kex.sshgateCertificates).toBeDefined();
    // ssh2 checks the names it is given against its supported list as the client is configured.
    const client = new ssh2.Client();
    client.on('error', () => undefined);
    expect(() =>
      client.connect({
        sock: new PassThrough(),
        username: 'x',
        algorithms: { serverHostKey: ['ssh-ed25519-cert-v01@openssh.com' as 'ssh-ed25519'] },
      }),
    ).not.toThrow();
    client.end();
  });
});

describe("ssh2's changes for speed", () => {
  it('are in place, in every changed file, once ssh2 is loaded', async () => {
    await loadSsh2();
    expect(ssh2CertificatesUnavailable()).toBeUndefined();
    for (const { file } of HUNKS) {
      const m = require.cache[join(lib, file)] as unknown as { sshgateCertificates?: unknown };
      expect(m.sshgateCertificates, file).toBeDefined();
    }
  });

  it('destroy a channel whose writing side finished without ending it again, and end one that had not', async () => {
    await loadSsh2();
    const { Channel } = (
      require.cache[join(lib, 'Channel.js')] as unknown as { exports: { Channel: { prototype: { destroy(): unknown } } } }
    ).exports;
    const stub = (writableFinished: boolean) => {
      const calls: string[] = [];
      const self = { writableFinished, end: () => calls.push('end'), close: () => calls.push('close') };
      expect(Channel.prototype.destroy.call(self)).toBe(self);
      return calls;
    };
    expect(stub(true)).toEqual(['close']);
    expect(stub(false)).toEqual(['end', 'close']);
  });
});
