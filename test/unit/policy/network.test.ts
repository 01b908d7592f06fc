import { describe, expect, it } from 'vitest';
import { compileNetwork } from '../../../src/policy/network.js';

const net = compileNetwork({
  allow_cidrs: ['10.0.0.0/8', 'fd00::/8'],
  block_cidrs: ['10.9.0.0/16'],
  allow_ips: ['192.168.1.140'],
  block_ips: ['10.0.0.66'],
});

describe('the network policy', () => {
  it('allows addresses inside the allowed blocks and single addresses', () => {
    expect(net.check('10.1.2.3').allowed).toBe(true);
    expect(net.check('192.168.1.140').allowed).toBe(true);
    expect(net.check('fd12::1').allowed).toBe(true);
  });

  it('refuses blocked blocks and addresses even inside an allowed block', () => {
    expect(net.check('10.9.1.1')).toMatchObject({ allowed: false, reason: expect.stringMatching(/block_cidrs/) });
    expect(net.check('10.0.0.66').allowed).toBe(false);
  });

  it('refuses addresses outside every allowed block, in either family', () => {
    expect(net.check('192.168.1.141')).toMatchObject({ allowed: false, reason: expect.stringMatching(/not in network\.allow/) });
    expect(net.check('2001:db8::1').allowed).toBe(false);
    expect(net.check('127.0.0.1').allowed).toBe(false);
  });

  it('judges an IPv4-mapped IPv6 address by its IPv4 form', () => {
    expect(net.check('::ffff:10.9.0.1').allowed).toBe(false);
    expect(net.check('::ffff:10.1.0.1').allowed).toBe(true);
  });

  it('refuses what is not an address', () => {
    expect(net.check('web1.example.com').allowed).toBe(false);
  });

  it('allows any address when no allow list is given', () => {
    const open = compileNetwork({ allow_cidrs: [], block_cidrs: ['10.9.0.0/16'], allow_ips: [], block_ips: [] });
    expect(open.check('8.8.8.8').allowed).toBe(true);
    expect(open.check('10.9.0.1').allowed).toBe(false);
  });
});
