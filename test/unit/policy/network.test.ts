import fc from 'fast-check';
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

  it('answers a repeated address as it did the first time, however many it has judged', () => {
    // Addresses near the policy's edges, so that both verdicts come up; more than the 4,096 kept.
    const address = fc.oneof(
      fc.tuple(fc.constantFrom(10, 192), fc.nat(12), fc.nat(255), fc.nat(255)).map((p) => p.join('.')),
      fc.nat(0xffff).map((n) => `fd00::${n.toString(16)}`),
      fc.constant('::ffff:10.9.0.1'),
    );
    fc.assert(
      fc.property(fc.array(address, { minLength: 5000, maxLength: 6000 }), (addresses) => {
        const memo = compileNetwork({
          allow_cidrs: ['10.0.0.0/8', 'fd00::/8'],
          block_cidrs: ['10.9.0.0/16'],
          allow_ips: [],
          block_ips: [],
        });
        for (const a of [...addresses, ...addresses.slice(0, 200)]) {
          const fresh = compileNetwork({
            allow_cidrs: ['10.0.0.0/8', 'fd00::/8'],
            block_cidrs: ['10.9.0.0/16'],
            allow_ips: [],
            block_ips: [],
          });
          expect(memo.check(a)).toEqual(fresh.check(a));
        }
      }),
      { numRuns: 3 },
    );
  });
});
