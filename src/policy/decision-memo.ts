/**
 * Decisions remembered per engine: a server sees the same few commands over and over, and a
 * decision is a pure function of the policy (one per engine), the host's alias, tags and shell,
 * the command and the call's options. In a serving process a decision of `true` took ~0.1 ms of a
 * warm call (cold caches between calls; 12 µs in a hot loop); a remembered one, a key and a
 * lookup. The key holds every input: a field added to HostRef or DecideOptions fails to compile
 * here until the key has it. Every decision is frozen, remembered or not, so a caller that
 * changed one would always throw, never change the next caller's.
 */
import type { Decision } from './decision.js';
import type { DecideOptions } from './decide.js';
import type { HostRef } from './limits.js';
import { deepFreeze } from '../deep-freeze.js';
import { setBounded } from '../bounded-map.js';

/** How many decisions an engine keeps; the oldest goes first. */
export const DECISION_MEMO_SIZE = 1024;
/** Longer commands are decided afresh each time. */
export const DECISION_MEMO_COMMAND_LIMIT = 512;
/**
 * Nor is a decision of more parts remembered: each part carries its text and reasons, and 1,024
 * decisions of ~250 parts each held 126 MB. At these limits 1,024 decisions of 512-byte commands
 * of 8 parts each held 7.3 MB (a server's usual commands, a fraction of that).
 */
export const DECISION_MEMO_SEGMENT_LIMIT = 8;

type Decide = (host: HostRef, command: string, options?: DecideOptions) => Decision;

// Each names every field of its type, or the `true` below does not type-check.
type Covers<T, K extends keyof T> = Exclude<keyof T, K> extends never ? true : false;
const HOST_FIELDS_KEYED: Covers<HostRef, 'alias' | 'tags' | 'shell'> = true;
const OPTIONS_KEYED: Covers<DecideOptions, 'workdir' | 'principal' | 'become'> = true;
void HOST_FIELDS_KEYED;
void OPTIONS_KEYED;

/** An option as the key holds it: absent is 0, and any value, null included, is itself in a list. */
const given = (value: unknown) => (value === undefined ? 0 : [value]);

export function rememberDecisions(decide: Decide, size = DECISION_MEMO_SIZE): Decide {
  const kept = new Map<string, Decision>();
  return (host, command, options = {}) => {
    if (size <= 0 || command.length > DECISION_MEMO_COMMAND_LIMIT) return deepFreeze(decide(host, command, options));
    // The principal whole (name, roles, how it proved itself): whatever rules may come to match on.
    const key = JSON.stringify([
      host.alias,
      host.tags,
      host.shell ?? null,
      command,
      given(options.workdir),
      given(options.principal),
      given(options.become),
    ]);
    const known = kept.get(key);
    if (known) return known;
    const decision = deepFreeze(decide(host, command, options));
    if (decision.segments.length > DECISION_MEMO_SEGMENT_LIMIT) return decision;
    setBounded(kept, key, decision, size);
    return decision;
  };
}
