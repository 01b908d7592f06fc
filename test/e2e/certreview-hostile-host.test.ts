/**
 * Adversarial review of host certificates: a hostile SSH server (test/support/hostile-ssh-server.mjs)
 * presents blobs that real sshd never would, through sshgate's real connect path (openConnection
 * with a KnownHostsFile). Each refusal case has a control that connects, so a test cannot pass
 * because the harness is broken.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SshgateError } from '../../src/errors.js';
import { openConnection } from '../../src/ssh/connect.js';
import { KnownHostsFile } from '../../src/ssh/known-hosts-file.js';
import { keygen, signKey } from '../support/certificates.js';
import { tempDir } from '../support/policy.js';

const ADDR = '127.174.0.1';
let dir: string;
let ca: ReturnType<typeof keygen>;
let ca2: ReturnType<typeof keygen>;
let keyA: ReturnType<typeof keygen>;
let keyB: ReturnType<typeof keygen>;
let rsa: ReturnType<typeof keygen>;
const children: ChildProcess[] = [];

beforeAll(() => {
  dir = tempDir('sshgate-certreview-');
  ca = keygen(dir, 'ca');
  ca2 = keygen(dir, 'ca2');
  keyA = keygen(dir, 'host_a');
  keyB = keygen(dir, 'host_b');
  rsa = keygen(dir, 'host_rsa', 'rsa', 2048);
});
afterAll(() => {
  for (const c of children) c.kill();
});

async function hostile(algorithm: string, blob: Buffer, signWith: string, sigType: string): Promise<number> {
  const child = spawn(
    process.execPath,
    ['test/support/hostile-ssh-server.mjs', ADDR, '0', algorithm, blob.toString('base64'), signWith, sigType],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(child);
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  for await (const line of lines) {
    const m = /^listening (\d+)$/.exec(line);
    if (m) return Number(m[1]);
  }
  throw new Error('the hostile server did not start');
}

function knownHosts(name: string, text: string, policy: 'strict' | 'accept-new' = 'strict'): KnownHostsFile {
  const file = join(dir, name);
  writeFileSync(file, text);
  return new KnownHostsFile(file, policy);
}

async function connect(port: number, hostKeys: KnownHostsFile): Promise<'connected' | SshgateError> {
  try {
    const client = await openConnection({
      alias: 'victim',
      host: ADDR,
      port,
      auth: { username: 'u', password: 'p' },
      hostKeys,
      timeoutMs: 10_000,
    });
    client.end();
    return 'connected';
  } catch (err) {
    return err as SshgateError;
  }
}

const caLine = (patterns: string, key = ca) => `@cert-authority ${patterns} ${key.pub}\n`;
const hostCert = (key: ReturnType<typeof keygen>, o: Parameters<typeof signKey>[2] = {}, by = ca) =>
  signKey(by.path, `${key.path}.pub`, { host: true, principals: [ADDR], ...o }).blob;

describe('a hostile host against @cert-authority lines', () => {
  it('control: the certificate of key A, the exchange signed by A, connects', async () => {
    const port = await hostile('ssh-ed25519-cert-v01@openssh.com', hostCert(keyA), keyA.path, 'ssh-ed25519');
    expect(await connect(port, knownHosts('kh-control', caLine('*')))).toBe('connected');
  });

  it('the certificate of key A with the exchange signed by key B is refused', async () => {
    const port = await hostile('ssh-ed25519-cert-v01@openssh.com', hostCert(keyA), keyB.path, 'ssh-ed25519');
    const got = await connect(port, knownHosts('kh-other-signer', caLine('*')));
    expect(got).toMatchObject({ code: 'connect_failed', message: expect.stringMatching(/signature verification failed/) });
  });

  it('the exchange signature named as the certificate algorithm is refused', async () => {
    const port = await hostile('ssh-ed25519-cert-v01@openssh.com', hostCert(keyA), keyA.path, 'ssh-ed25519-cert-v01@openssh.com');
    const got = await connect(port, knownHosts('kh-sigtype', caLine('*')));
    expect(got).toMatchObject({ code: 'connect_failed', message: expect.stringMatching(/Wrong signature type/) });
  });

  it('a USER certificate of A (principal = the host address) presented as the host certificate is refused', async () => {
    const user = signKey(ca.path, `${keyA.path}.pub`, { principals: [ADDR], id: 'user-as-host' }).blob;
    const port = await hostile('ssh-ed25519-cert-v01@openssh.com', user, keyA.path, 'ssh-ed25519');
    const got = await connect(port, knownHosts('kh-user', caLine('*')));
    expect(got).toMatchObject({ code: 'host_key_mismatch', message: expect.stringMatching(/user certificate/) });
  });

  it('an RSA host certificate presented under the Ed25519 certificate algorithm is refused', async () => {
    const port = await hostile('ssh-ed25519-cert-v01@openssh.com', hostCert(rsa), rsa.path, 'ssh-ed25519');
    const got = await connect(port, knownHosts('kh-confused', caLine('*')));
    expect(got).toMatchObject({ code: 'connect_failed', message: expect.stringMatching(/does not match negotiated type/) });
  });

  it('control: an RSA host certificate under rsa-sha2-512-cert-v01 connects', async () => {
    const port = await hostile('rsa-sha2-512-cert-v01@openssh.com', hostCert(rsa), rsa.path, 'rsa-sha2-512');
    expect(await connect(port, knownHosts('kh-rsa', caLine('*')))).toBe('connected');
  });

  it('an RSA host certificate whose exchange is signed with ssh-rsa (SHA-1) under rsa-sha2-512-cert is refused', async () => {
    const port = await hostile('rsa-sha2-512-cert-v01@openssh.com', hostCert(rsa), rsa.path, 'ssh-rsa');
    const got = await connect(port, knownHosts('kh-rsa-sha1', caLine('*')));
    expect(got).toMatchObject({ code: 'connect_failed', message: expect.stringMatching(/Wrong signature type: ssh-rsa/) });
  });

  it('a certificate whose CA signature was altered (one byte) is refused', async () => {
    const cert = Buffer.from(hostCert(keyA));
    cert.writeUInt8((cert.at(-5) as number) ^ 1, cert.length - 5);
    const port = await hostile('ssh-ed25519-cert-v01@openssh.com', cert, keyA.path, 'ssh-ed25519');
    expect(await connect(port, knownHosts('kh-badsig', caLine('*')))).toMatchObject({ code: 'host_key_mismatch' });
  });

  it('a certificate from another CA of the same key type is refused', async () => {
    const port = await hostile('ssh-ed25519-cert-v01@openssh.com', hostCert(keyA, {}, ca2), keyA.path, 'ssh-ed25519');
    expect(await connect(port, knownHosts('kh-ca2', caLine('*')))).toMatchObject({ code: 'host_key_mismatch' });
  });

  it('a CA line whose patterns negate this host does not vouch for it', async () => {
    const port = await hostile('ssh-ed25519-cert-v01@openssh.com', hostCert(keyA), keyA.path, 'ssh-ed25519');
    // No CA line applies, so no certificate algorithm is offered: the hostile host, which offers
    // only its certificate, finds no host key algorithm in common.
    const got = await connect(port, knownHosts('kh-negated', caLine(`*,![${ADDR}]:${port}`)));
    expect(got).toMatchObject({ code: 'connect_failed', message: expect.stringMatching(/host key/i) });
    const got2 = await connect(port, knownHosts('kh-negated2', caLine(`![${ADDR}]:*,*`)));
    expect(got2).toMatchObject({ code: 'connect_failed', message: expect.stringMatching(/host key/i) });
  });

  it('a certificate not yet valid is refused', async () => {
    const port = await hostile('ssh-ed25519-cert-v01@openssh.com', hostCert(keyA, { validity: '+1d:+2d' }), keyA.path, 'ssh-ed25519');
    expect(await connect(port, knownHosts('kh-future', caLine('*')))).toMatchObject({
      code: 'host_key_mismatch',
      message: expect.stringMatching(/not valid before/),
    });
  });

  it('principals that only look like the host (trailing dot, space, wildcards) are refused', async () => {
    const cases = [[`${ADDR}.`], [` ${ADDR}`], ['*'], ['127.174.0.*']];
    for (const principals of cases) {
      const port = await hostile('ssh-ed25519-cert-v01@openssh.com', hostCert(keyA, { principals }), keyA.path, 'ssh-ed25519');
      expect(await connect(port, knownHosts('kh-principal', caLine('*')))).toMatchObject({ code: 'host_key_mismatch' });
    }
  });

  it('@revoked on the certificate blob itself refuses it', async () => {
    const cert = hostCert(keyA);
    const port = await hostile('ssh-ed25519-cert-v01@openssh.com', cert, keyA.path, 'ssh-ed25519');
    const revoked = `@revoked * ssh-ed25519-cert-v01@openssh.com ${cert.toString('base64')}\n`;
    expect(await connect(port, knownHosts('kh-revcert', caLine('*') + revoked))).toMatchObject({ code: 'host_key_mismatch' });
  });

  it('under accept-new, a host covered by a CA line presenting a plain unknown key is refused and never recorded', async () => {
    const port = await hostile('ssh-ed25519', keyB.blob, keyB.path, 'ssh-ed25519');
    const hk = knownHosts('kh-downgrade', caLine(`[${ADDR}]:*`), 'accept-new');
    expect(await connect(port, hk)).toMatchObject({ code: 'host_key_unknown' });
    expect(readFileSync(join(dir, 'kh-downgrade'), 'utf8')).toBe(caLine(`[${ADDR}]:*`));
    // Control: without the CA line, accept-new records it.
    const hk2 = knownHosts('kh-downgrade-control', '', 'accept-new');
    expect(await connect(port, hk2)).toBe('connected');
    expect(readFileSync(join(dir, 'kh-downgrade-control'), 'utf8')).toContain(keyB.blob.toString('base64'));
  });

  it('under accept-new, a host covered by a CA line presenting an invalid certificate records nothing', async () => {
    const port = await hostile('ssh-ed25519-cert-v01@openssh.com', hostCert(keyA, {}, ca2), keyA.path, 'ssh-ed25519');
    const hk = knownHosts('kh-an-cert', caLine('*'), 'accept-new');
    const got = await connect(port, hk);
    expect(got).toMatchObject({ code: 'host_key_mismatch' });
    expect(readFileSync(join(dir, 'kh-an-cert'), 'utf8')).toBe(caLine('*'));
  });
});
