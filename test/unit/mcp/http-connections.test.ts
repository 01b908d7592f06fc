import { describe, expect, it } from 'vitest';
import { clientKey } from '../../../src/mcp/http-connections.js';

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
