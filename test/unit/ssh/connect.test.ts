import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import ssh2, { type KexAlgorithm, type ParsedKey } from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { LoginRefused, openConnection } from '../../../src/ssh/connect.js';
import { signPublickeyRequests } from '../../../src/ssh/signed-publickey.js';
import { decodedOnce } from '../../../src/ssh/signing-key.js';
import { ed25519KeyPair } from '../../../src/demo/keys.js';

const hostKey = ed25519KeyPair().private;
const servers: ssh2.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A key pair of the type; an Ed25519 one by ed25519KeyPair, as ssh2 makes about one in 256 it cannot parse. */
function keyPair(type: 'ed25519' | 'ecdsa' | 'rsa', opts: { bits?: number } = {}) {
  return type === 'ed25519' ? ed25519KeyPair() : ssh2.utils.generateKeyPairSync(type, opts as { bits: number });
}

function parsed(text: string): ParsedKey {
  const k = ssh2.utils.parseKey(text);
  if (k instanceof Error || Array.isArray(k)) throw new Error('bad test key');
  return k;
}

/**
 * An SSH server in this process that accepts `user` with `login`'s key, once the signature checks
 * out, and reports the key exchange the connection agreed on.
 */
async function host(
  login: ParsedKey,
  kex?: KexAlgorithm[],
): Promise<{ port: number; agreed: Promise<string>; requests: { method: string; signed: boolean }[] }> {
  let agree: (kex: string) => void = () => undefined;
  const agreed = new Promise<string>((r) => (agree = r));
  /** Every login request the host received, and whether it carried a signature. */
  const requests: { method: string; signed: boolean }[] = [];
  const server = new ssh2.Server({ hostKeys: [hostKey], ...(kex ? { algorithms: { kex } } : {}) }, (client) => {
    client.on('handshake', (negotiated) => agree(negotiated.kex));
    client.on('authentication', (ctx) => {
      requests.push({ method: ctx.method, signed: ctx.method === 'publickey' && ctx.signature !== undefined });
      if (ctx.method !== 'publickey' || ctx.username !== 'user' || !ctx.key.data.equals(login.getPublicSSH())) return ctx.reject();
      if (!ctx.signature || !ctx.blob) return ctx.accept();
      if (login.verify(ctx.blob, ctx.signature, ctx.hashAlgo)) ctx.accept();
      else ctx.reject();
    });
    client.on('error', () => undefined);
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, agreed, requests };
}

async function login(port: number, key: ParsedKey, password?: string): Promise<void> {
  const client = await openConnection({
    alias: 'h',
    host: '127.0.0.1',
    port,
    auth: { username: 'user', parsedKey: key, ...(password !== undefined ? { password } : {}) },
    hostKeys: { path: 'known_hosts', verify: () => ({ status: 'match' }) },
    timeoutMs: 5000,
  });
  client.end();
}

describe('a new connection', () => {
  it('agrees on ECDH over P-256 with a host that offers the usual exchanges', async () => {
    const key = decodedOnce(parsed(ed25519KeyPair().private));
    const h = await host(key);
    await login(h.port, key);
    expect(await h.agreed).toBe('ecdh-sha2-nistp256');
  });

  it('still agrees on curve25519 with a host that leaves P-256 out', async () => {
    const key = decodedOnce(parsed(ed25519KeyPair().private));
    const h = await host(key, ['curve25519-sha256', 'diffie-hellman-group14-sha256']);
    await login(h.port, key);
    expect(await h.agreed).toBe('curve25519-sha256');
  });

  it.each([
    ['ed25519', {}],
    ['ecdsa', { bits: 256 }],
    ['ecdsa', { bits: 384 }],
    ['rsa', { bits: 2048 }],
  ] as const)('logs in with a key of type %s decoded once, signing what the host verifies', async (type, opts) => {
    const text = keyPair(type, opts).private;
    const key = decodedOnce(parsed(text));
    const h = await host(key);
    await login(h.port, key);
    // A second connection signs with the key decoded by the first.
    await login(h.port, key);
    // Each connection offered the key with its signature at once: no question first.
    expect(h.requests).toEqual([
      { method: 'publickey', signed: true },
      { method: 'publickey', signed: true },
    ]);
    if (type === 'ed25519') {
      // Ed25519 is deterministic: the same bytes as ssh2's own signature.
      const data = Buffer.from('exchange hash');
      expect(key.sign(data)).toEqual(parsed(text).sign(data));
    }
  });
});

describe('a login key held here (signed-publickey.ts)', () => {
  it('goes on to the next method when the host refuses its signed request', async () => {
    const key = decodedOnce(parsed(ed25519KeyPair().private));
    const other = decodedOnce(parsed(ed25519KeyPair().private));
    const h = await host(other);
    await expect(login(h.port, key, 'pw')).rejects.toBeInstanceOf(LoginRefused);
    expect(h.requests).toEqual([
      { method: 'publickey', signed: true },
      { method: 'password', signed: false },
    ]);
  });
});

describe('signPublickeyRequests', () => {
  type Call = { key: unknown; algorithm?: string; sign?: (data: Buffer, done: (s: Buffer) => void) => void };
  /** A client whose protocol records each publickey request instead of sending it. */
  function recording(): { client: ssh2.Client; calls: Call[] } {
    const calls: Call[] = [];
    const authPK = (_user: string, key: unknown, algorithm?: string, sign?: Call['sign']) => void calls.push({ key, algorithm, sign });
    const client = { _protocol: { authPK } } as unknown as ssh2.Client;
    signPublickeyRequests(client);
    return { client, calls };
  }
  const authPK = (client: ssh2.Client) =>
    (client as unknown as { _protocol: { authPK: (u: string, k: unknown, a?: string, s?: Call['sign']) => void } })._protocol.authPK;

  it.each([
    ['ed25519', {}, undefined, null],
    ['rsa', { bits: 2048 }, 'rsa-sha2-512', 'sha512'],
    ['rsa', { bits: 2048 }, 'rsa-sha2-256', 'sha256'],
    ['rsa', { bits: 2048 }, 'ssh-rsa', 'sha1'],
  ] as const)('signs a %s key file’s first request (%s) with the hash ssh2 would use', (type, opts, algorithm, hash) => {
    const key = parsed(keyPair(type, opts).private);
    const { client, calls } = recording();
    authPK(client)('user', key, algorithm);
    expect(calls).toHaveLength(1);
    let signature: Buffer | undefined;
    calls[0]?.sign?.(Buffer.from('request'), (s) => (signature = s));
    expect(signature).toBeInstanceOf(Buffer);
    expect(key.verify(Buffer.from('request'), signature as Buffer, hash ?? undefined)).toBe(true);
  });

  it('still asks about a key whose private half is not here (an agent’s)', () => {
    const pub = parsed(keyPair('ed25519').public);
    const { client, calls } = recording();
    authPK(client)('user', pub, undefined);
    expect(calls).toEqual([{ key: pub, algorithm: undefined, sign: undefined }]);
  });

  it('asks instead when the key cannot sign, so that ssh2 reports the failure as before', () => {
    const key = parsed(keyPair('ed25519').private);
    const broken = Object.create(key, { sign: { value: () => new Error('no') } }) as ParsedKey;
    const { client, calls } = recording();
    authPK(client)('user', broken, undefined);
    let sent = false;
    calls[0]?.sign?.(Buffer.from('request'), () => (sent = true));
    expect(sent).toBe(false);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.sign).toBeUndefined();
  });

  it('passes a request that already signs (after the host said yes) through unchanged', () => {
    const key = parsed(keyPair('ed25519').private);
    const { client, calls } = recording();
    const sign = () => undefined;
    authPK(client)('user', key, undefined, sign);
    expect(calls).toEqual([{ key, algorithm: undefined, sign }]);
  });

  it('leaves an ssh2 of another release asking first', () => {
    const calls: unknown[][] = [];
    const authPK = (...args: unknown[]) => void calls.push(args);
    const client = { _protocol: { authPK } } as unknown as ssh2.Client;
    signPublickeyRequests(client, '1.18.0');
    const key = parsed(keyPair('ed25519').private);
    (client as unknown as { _protocol: { authPK: (...a: unknown[]) => void } })._protocol.authPK('user', key, undefined);
    expect(calls).toEqual([['user', key, undefined]]);
  });

  it('leaves a client without the protocol object it knows alone', () => {
    const client = {} as ssh2.Client;
    signPublickeyRequests(client);
    expect(client).toEqual({});
  });
});
