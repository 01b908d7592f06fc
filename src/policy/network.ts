/**
 * Where sshgate may connect, as a pure function of one resolved address. Matching uses Node's own
 * net.BlockList, which understands CIDR blocks for both families.
 */
import { BlockList, isIP } from 'node:net';
import type { NetworkPolicy } from '../config/file-formats.js';

export interface NetworkVerdict {
  allowed: boolean;
  reason: string;
}

export interface NetworkCheck {
  check(address: string): NetworkVerdict;
}

/** Verdicts kept per compiled policy: the inventory's addresses, with room to spare. */
const MAX_REMEMBERED = 4096;

export function compileNetwork(policy: NetworkPolicy): NetworkCheck {
  const allow = toBlockList(policy.allow_cidrs, policy.allow_ips);
  const block = toBlockList(policy.block_cidrs, policy.block_ips);
  const hasAllowList = policy.allow_cidrs.length + policy.allow_ips.length > 0;
  // A verdict is a pure function of the address, and an inventory names few: each is judged once
  // per compiled policy (BlockList's check builds a SocketAddress per call, ~10% of a warm call's
  // own work).
  const verdicts = new Map<string, NetworkVerdict>();
  return {
    check(address) {
      let verdict = verdicts.get(address);
      if (verdict) return verdict;
      verdict = Object.freeze(judge(address));
      if (verdicts.size >= MAX_REMEMBERED) verdicts.clear();
      verdicts.set(address, verdict);
      return verdict;
    },
  };

  function judge(address: string): NetworkVerdict {
    const family = familyOf(address);
    if (!family) return { allowed: false, reason: `"${address}" is not an IP address` };
    const plain = unmap(address);
    const fam = familyOf(plain) ?? family;
    if (block.check(plain, fam)) return { allowed: false, reason: `${address} is in network.block_cidrs/block_ips` };
    if (hasAllowList && !allow.check(plain, fam)) {
      return { allowed: false, reason: `${address} is not in network.allow_cidrs/allow_ips` };
    }
    return { allowed: true, reason: hasAllowList ? `${address} is in the allowed networks` : 'no network restriction' };
  }
}

function toBlockList(cidrs: string[], ips: string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split('/') as [string, string];
    list.addSubnet(addr, Number(bits), familyOf(addr) ?? 'ipv4');
  }
  for (const ip of ips) list.addAddress(ip, familyOf(ip) ?? 'ipv4');
  return list;
}

function familyOf(address: string): 'ipv4' | 'ipv6' | undefined {
  const f = isIP(address);
  return f === 4 ? 'ipv4' : f === 6 ? 'ipv6' : undefined;
}

/** `::ffff:10.0.0.1` is 10.0.0.1: judge it by the IPv4 rules, so a mapped form cannot slip past. */
function unmap(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m?.[1] ?? address;
}
