import { once } from 'node:events';
import { createServer } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { clientKey, guardConnections } from '../../../src/mcp/http-connections.js';

describe('clientKey', () => {
  it('counts an IPv4 client by its address, mapped into IPv6 or not', () => {
    expect(clientKey('127.0.0.2')).toBe('127.0.0.2');
    expect(clientKey('::ffff:127.0.0.2')).toBe('127.0.0.2');
  });

  it('counts an IPv6 client by its /64, however the address is written', () => {
    expect(clientKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:0db8:0001:0002:ffff::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('fe80::1:2:3:4:5')).toBe('fe80:0:0:1::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
  });

  it('keeps what it cannot read as it is', () => {
    expect(clientKey(undefined)).toBe('unknown');
    expect(clientKey('::1.2.3.4')).toBe('::1.2.3.4');
  });
});

describe('guardConnections', () => {
  it('lets one address hold as many connections as it was given, closing its oldest half-open one beyond', async () => {
    const server = createServer(() => undefined);
    guardConnections(server, pino({ level: 'silent' }), { perClient: 2 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const open = async () => {
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'connect');
      // The start of a request that never completes: a connection with no request in progress.
      socket.write('POST /mcp HTTP/1.1\r\n');
      return socket;
    };
    try {
      const first = await open();
      const closed = once(first, 'close');
      const second = await open();
      await new Promise((r) => setTimeout(r, 50));
      expect(first.destroyed).toBe(false);
      const third = await open();
      await closed;
      expect([second.destroyed, third.destroyed]).toEqual([false, false]);
      for (const s of [second, third]) s.destroy();
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  /** A keep-alive HTTP server under the guard, and raw connections that send whole GETs on it. */
  async function keepAliveServer(perClient: number, graceMs: number, total?: number) {
    const server = createServer((_req, res) => res.end('ok'));
    guardConnections(server, pino({ level: 'silent' }), { perClient, idleGraceMs: graceMs, total });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const open = async () => {
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'connect');
      return socket;
    };
    const get = async (socket: Socket) => {
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      let got = '';
      while (!got.endsWith('ok')) got += ((await once(socket, 'data')) as [Buffer])[0].toString();
    };
    return { server, open, get };
  }
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('closes the keep-alive connection idle the longest for a new one, not the oldest', async () => {
    const { server, open, get } = await keepAliveServer(2, 100);
    try {
      const oldest = await open();
      const other = await open();
      await get(oldest);
      await get(other);
      await get(oldest);
      await sleep(150);
      const closed = once(other, 'close');
      const third = await open();
      await closed;
      await sleep(20);
      expect([oldest.destroyed, third.destroyed]).toEqual([false, false]);
      await get(oldest);
      for (const s of [oldest, third]) s.destroy();
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('refuses a new connection rather than close one whose answer has just gone out', async () => {
    const { server, open, get } = await keepAliveServer(1, 10_000);
    try {
      const busy = await open();
      await get(busy);
      const late = await open();
      await once(late, 'close');
      expect(busy.destroyed).toBe(false);
      // The client sends its next request on the connection it kept: it is answered.
      await get(busy);
      busy.destroy();
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('holds the connections in all to the total it was given, whatever the per-client limit', async () => {
    const { server, open, get } = await keepAliveServer(100, 10_000, 2);
    try {
      const [a, b] = [await open(), await open()];
      await get(a);
      await get(b);
      // Both answered a moment ago: neither may go, so the third is refused.
      const third = await open();
      await once(third, 'close');
      expect([a.destroyed, b.destroyed]).toEqual([false, false]);
      await get(a);
      for (const s of [a, b]) s.destroy();
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
