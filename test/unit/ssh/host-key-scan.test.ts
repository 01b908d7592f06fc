import { once } from 'node:events';
import { createRequire } from 'node:module';
import { createServer, type AddressInfo, type Server } from 'node:net';
import ssh2 from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { HOST_KEY_TYPES } from '../../../src/ssh/algorithms.js';
import { dial } from '../../../src/ssh/connect.js';
import { scanHostKeys } from '../../../src/ssh/host-key-scan.js';
import { ed25519KeyPair } from '../../../src/demo/keys.js';

const { generateKeyPairSync, parseKey } = ssh2.utils;
const ed = ed25519KeyPair().private;
const ec = generateKeyPairSync('ecdsa', { bits: 256 }).private;
const rsa = generateKeyPairSync('rsa', { bits: 2048 }).private;

const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

function publicOf(text: string): Buffer {
  const k = parseKey(text);
  if (k instanceof Error || Array.isArray(k)) throw new Error('bad test key');
  return k.getPublicSSH();
}

/** An SSH server in this process with these host keys; counts logins attempted and connections. */
async function host(hostKeys: string[]): Promise<{ port: number; logins: () => number; connections: () => number }> {
  let logins = 0;
  let connections = 0;
  const server = new ssh2.Server({ hostKeys }, (client) => {
    client.on('authentication', (ctx) => {
      logins++;
      ctx.reject();
    });
    client.on('error', () => undefined);
  });
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => server.close());
  return { port: (server.address() as AddressInfo).port, logins: () => logins, connections: () => connections };
}

async function tcp(onConnection: (s: import('node:net').Socket) => void): Promise<number> {
  const server: Server = createServer(onConnection);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => server.close());
  return (server.address() as AddressInfo).port;
}

const scan = (port: number, timeoutMs = 5000) =>
  scanHostKeys({ alias: 'h', host: '127.0.0.1', port, timeoutMs, open: (signal) => dial({ alias: 'h', host: '127.0.0.1', port, signal }) });

describe('scanning a host for its keys', () => {
  it('asks for every type ssh2 negotiates by default, grouped by key', () => {
    const { DEFAULT_SERVER_HOST_KEY } = createRequire(import.meta.url)('ssh2/lib/protocol/constants.js') as {
      DEFAULT_SERVER_HOST_KEY: string[];
    };
    expect(HOST_KEY_TYPES.flatMap((t) => t.algorithms)).toEqual(DEFAULT_SERVER_HOST_KEY);
  });

  it('finds each of the host keys a host has, and never tries to log in', async () => {
    const h = await host([ed, ec, rsa]);
    const keys = await scan(h.port);
    expect(keys.map((k) => k.keyType)).toEqual(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ssh-rsa']);
    expect(keys.map((k) => k.key)).toEqual([publicOf(ed), publicOf(ec), publicOf(rsa)]);
    expect(h.logins()).toBe(0);
    expect(h.connections()).toBe(HOST_KEY_TYPES.length);
  });

  it('finds the one key of a host that has one', async () => {
    const h = await host([ed]);
    expect((await scan(h.port)).map((k) => k.key)).toEqual([publicOf(ed)]);
  });

  it('says a host cannot be reached when nothing listens', async () => {
    const port = await tcp(() => undefined);
    closers.pop()?.();
    await new Promise((r) => setTimeout(r, 50));
    await expect(scan(port)).rejects.toMatchObject({ code: 'connect_failed', message: expect.stringContaining('cannot reach host "h"') });
  });

  it('gives up on a port that does not speak SSH', async () => {
    const port = await tcp((s) => s.end('HTTP/1.0 400 Bad Request\r\n\r\n'));
    await expect(scan(port)).rejects.toMatchObject({ code: 'connect_failed' });
  });

  it('gives up on a host that never completes the exchange, within its time', async () => {
    const held: import('node:net').Socket[] = [];
    const port = await tcp((s) => held.push(s));
    closers.push(() => held.forEach((s) => s.destroy()));
    const started = Date.now();
    await expect(scan(port, 300)).rejects.toMatchObject({ code: 'timeout' });
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
