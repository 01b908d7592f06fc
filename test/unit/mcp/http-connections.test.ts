import { once } from 'node:events';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
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
    guardConnections(server, pino({ level: 'silent' }), 2);
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
});
