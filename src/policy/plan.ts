/**
 * A decision for a real inventory host: the command policy, plus the network policy when the
 * host is given as an address (names are checked after resolution, when connecting).
 */
import { isIP } from 'node:net';
import type { HostEntry } from '../config/schemas.js';
import type { PolicyEngine } from './decide.js';
import type { Decision } from './decision.js';

export function decideForHost(engine: PolicyEngine, host: HostEntry, command: string, options: { workdir?: string } = {}): Decision {
  const decision = engine.decide(host, command, options);
  if (decision.allowed && isIP(host.host) !== 0) {
    const net = engine.network.check(host.host);
    if (!net.allowed) return { ...decision, allowed: false, reason: `network policy: ${net.reason}` };
  }
  return decision;
}
