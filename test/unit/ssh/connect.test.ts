import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import ssh2, { type KexAlgorithm, type ParsedKey } from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { openConnection } from '../../../src/ssh/connect.js';
import { decodedOnce } from '../../../src/ssh/signing-key.js';
import { ed25519KeyPair } from '../../../src/demo/keys.js';

const hostKey = ed25519KeyPair().private;
const servers: ssh2.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

function parsed(text: string): ParsedKey {
  const k = ssh2.utils.parseKey(text);
  if (k instanceof Error || Array.isArray(k)) throw new Error('bad test key');
  return k;
}

/**
 * An SSH server in this process that accepts `user` with `login`'s key, once the signature checks
 * out, and reports the key exchange the connection agreed on.
 */
async function host(login: ParsedKey, kex?: KexAlgorithm[]): Promise<{ port: number; agreed: Promise<string> }> {
  let agree: (kex: string) => void = () => undefined;
  const agreed = new Promise<string>((r) => (agree = r));
  const server = new ssh2.Server({ hostKeys: [hostKey], ...(kex ? { algorithms: { kex } } : {}) }, (client) => {
    client.on('handshake', (negotiated) => agree(negotiated.kex));
    client.on('authentication', (ctx) => {
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
  return { port: (server.address() as AddressInfo).port, agreed };
}

async function login(port: number, key: ParsedKey): Promise<void> {
  const client = await openConnection({
    alias: 'h',
    host: '127.0.0.1',
    port,
    auth: { username: 'user', parsedKey: key },
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
    const text = ssh2.utils.generateKeyPairSync(type, opts).private;
    const key = decodedOnce(parsed(text));
    const h = await host(key);
    await login(h.port, key);
    // A second connection signs with the key decoded by the first.
    await login(h.port, key);
    if (type === 'ed25519') {
      // Ed25519 is deterministic: the same bytes as ssh2's own signature.
      const data = Buffer.from('exchange hash');
      expect(key.sign(data)).toEqual(parsed(text).sign(data));
    }
  });
});
