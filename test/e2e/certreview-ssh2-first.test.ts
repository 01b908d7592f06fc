/**
 * Adversarial review: ssh2 loaded (unchanged) before sshgate could change it, as a static
 * `import ssh2 from 'ssh2'` elsewhere in the process would (src/demo does). Certificates are then
 * unavailable, and a host that known_hosts covers only through a CA must still be refused, never
 * taken on its plain key, under accept-new too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openConnection } from '../../src/ssh/connect.js';
import { KnownHostsFile } from '../../src/ssh/known-hosts-file.js';
import { loadSsh2, ssh2CertificatesUnavailable } from '../../src/ssh/ssh2.js';
import { keygen, signKey } from '../support/certificates.js';
import { tempDir } from '../support/policy.js';

const ADDR = '127.175.0.1';
let dir: string;
let ca: ReturnType<typeof keygen>;
let key: ReturnType<typeof keygen>;
const children: ChildProcess[] = [];

beforeAll(() => {
  expect(typeof ssh2.Client).toBe('function');
  dir = tempDir('sshgate-certreview2-');
  ca = keygen(dir, 'ca');
  key = keygen(dir, 'host');
});
afterAll(() => {
  for (const c of children) c.kill();
});

async function hostile(algorithm: string, blob: Buffer, sigType: string): Promise<number> {
  const child = spawn(
    process.execPath,
    ['test/support/hostile-ssh-server.mjs', ADDR, '0', algorithm, blob.toString('base64'), key.path, sigType],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(child);
  for await (const line of createInterface({ input: child.stdout as NodeJS.ReadableStream })) {
    const m = /^listening (\d+)$/.exec(line);
    if (m) return Number(m[1]);
  }
  throw new Error('the hostile server did not start');
}

async function connect(port: number, hostKeys: KnownHostsFile): Promise<unknown> {
  try {
    (
      await openConnection({ alias: 'victim', host: ADDR, port, auth: { username: 'u', password: 'p' }, hostKeys, timeoutMs: 10_000 })
    ).end();
    return 'connected';
  } catch (err) {
    return err;
  }
}

describe('ssh2 loaded before its certificate changes', () => {
  it('certificates are reported unavailable', async () => {
    await loadSsh2();
    expect(ssh2CertificatesUnavailable()).toMatch(/loaded before/);
  });

  it('a CA-covered host offering its plain key is refused and, under accept-new, not recorded', async () => {
    const port = await hostile('ssh-ed25519', key.blob, 'ssh-ed25519');
    const file = join(dir, 'kh');
    const line = `@cert-authority * ${ca.pub}\n`;
    writeFileSync(file, line);
    expect(await connect(port, new KnownHostsFile(file, 'accept-new'))).toMatchObject({
      code: 'host_key_unknown',
      hint: expect.stringMatching(/cannot check host certificates/),
    });
    expect(readFileSync(file, 'utf8')).toBe(line);
  });

  it('a CA-covered host offering only a valid certificate is not connected to', async () => {
    const cert = signKey(ca.path, `${key.path}.pub`, { host: true, principals: [ADDR] }).blob;
    const port = await hostile('ssh-ed25519-cert-v01@openssh.com', cert, 'ssh-ed25519');
    const file = join(dir, 'kh2');
    writeFileSync(file, `@cert-authority * ${ca.pub}\n`);
    expect(await connect(port, new KnownHostsFile(file, 'strict'))).not.toBe('connected');
  });
});
