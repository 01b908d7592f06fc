/**
 * A decision for a real inventory host: the command policy (or the file rules), plus the network policy when the
 * host is given as an address (names are checked after resolution, when connecting).
 */
import { isIP } from 'node:net';
import type { HostEntry } from '../config/file-formats.js';
import type { DecideOptions, PolicyEngine } from './decide.js';
import type { Decision, FileDecision } from './decision.js';
import { decideFile, type FileRequest } from './file-decision.js';

/** `options.principal`: who asks (see `ruleConsidered` for a decision without one). */
export function decideForHost(engine: PolicyEngine, host: HostEntry, command: string, options: DecideOptions = {}): Decision {
  const decision = engine.decide(host, command, options);
  if (decision.verdict !== 'deny' && isIP(host.host) !== 0) {
    const net = engine.network.check(host.host);
    if (!net.allowed) {
      const denied = { verdict: 'deny' as const, allowed: false, tty_allowed: false, stdin_allowed: false };
      return { ...decision, ...denied, reason: `network policy: ${net.reason}`, approval: null };
    }
  }
  return decision;
}

/**
 * A file operation's decision for a real inventory host: the file rules, plus the network policy
 * when the host is given as an address, as for commands. What the gateway calls, with the path the
 * caller gave and again with the path it resolves to on the host.
 */
export function decideFileForHost(engine: PolicyEngine, host: HostEntry, request: FileRequest): FileDecision {
  const decision = decideFile(engine.policy, host, request);
  if (decision.allowed && isIP(host.host) !== 0) {
    const net = engine.network.check(host.host);
    if (!net.allowed) return { ...decision, verdict: 'deny', allowed: false, rule: null, reason: `network policy: ${net.reason}` };
  }
  return decision;
}

/**
 * Why the command may not run with a terminal, or undefined when it may: a denied command's
 * reason, else the first segment that no allow rule with `tty: true` allows.
 */
export function ttyRefusal(decision: Decision): string | undefined {
  if (decision.tty_allowed) return undefined;
  if (!decision.allowed) return decision.reason;
  const s = decision.segments.find((v) => !v.tty);
  const by = s?.rule ? `allowed by rule "${s.rule}", which does not say tty: true, ` : '';
  return `"${s?.text ?? decision.command}" is ${by}not allowed with a terminal: no allow rule with tty: true matches it`;
}

/**
 * Why the command may not be given stdin, or undefined when it may: a denied command's reason,
 * else the first segment that no allow rule with `stdin: true` allows.
 */
export function stdinRefusal(decision: Decision): string | undefined {
  if (decision.stdin_allowed) return undefined;
  if (!decision.allowed) return decision.reason;
  const s = decision.segments.find((v) => !v.stdin);
  const by = s?.rule ? `allowed by rule "${s.rule}", which does not say stdin: true, ` : '';
  return `"${s?.text ?? decision.command}" is ${by}not allowed to read a call's stdin: no allow rule with stdin: true matches it`;
}
