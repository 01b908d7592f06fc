/**
 * Decisions remembered per engine: a server sees the same few commands over and over, and a
 * decision is a pure function of the policy (one per engine), the host's alias, tags and shell,
 * the command and the call's options. In a serving process a decision of `true` took ~0.1 ms of a
 * warm call (cold caches between calls; 12 µs in a hot loop); a remembered one, a key and a
 * lookup. The key holds every input: a field added to HostRef or DecideOptions fails to compile
 * here until the key has it. What is remembered is frozen, so a caller that changed a decision
 * would throw instead of changing the next caller's.
 */
import type { Decision } from './decision.js';
import type { DecideOptions } from './decide.js';
import type { HostRef } from './limits.js';

/** How many decisions an engine keeps; the oldest goes first. */
export const DECISION_MEMO_SIZE = 1024;
/** Longer commands are decided afresh each time: the memo's keys stay within ~1 MiB. */
export const DECISION_MEMO_COMMAND_LIMIT = 1024;

type Decide = (host: HostRef, command: string, options?: DecideOptions) => Decision;

// Each names every field of its type, or the `true` below does not type-check.
type Covers<T, K extends keyof T> = Exclude<keyof T, K> extends never ? true : false;
const HOST_FIELDS_KEYED: Covers<HostRef, 'alias' | 'tags' | 'shell'> = true;
const OPTIONS_KEYED: Covers<DecideOptions, 'workdir' | 'principal' | 'become'> = true;
void HOST_FIELDS_KEYED;
void OPTIONS_KEYED;

export function rememberDecisions(decide: Decide, size = DECISION_MEMO_SIZE): Decide {
  if (size <= 0) return decide;
  const kept = new Map<string, Decision>();
  return (host, command, options = {}) => {
    if (command.length > DECISION_MEMO_COMMAND_LIMIT) return decide(host, command, options);
    // The principal whole (name, roles, how it proved itself): whatever rules may come to match on.
    const key = JSON.stringify([
      host.alias,
      host.tags,
      host.shell ?? null,
      command,
      options.workdir ?? null,
      options.principal ?? null,
      options.become ?? null,
    ]);
    const known = kept.get(key);
    if (known) return known;
    const decision = deepFreeze(decide(host, command, options));
    if (kept.size >= size) kept.delete(kept.keys().next().value as string);
    kept.set(key, decision);
    return decision;
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
