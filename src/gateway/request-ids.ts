/**
 * No double execution on retry. A caller that sends a run tool's `request_id` (an idempotency
 * key) and sends the same call again — its connection broke before the answer came, its client
 * retried on a timeout — gets the task (or fan-out) of the first call back instead of a second
 * run. A key is the caller's own (principal name and key), lives as long as the task result would
 * (task_result_ttl), and binds the exact call: the same key with other arguments is refused.
 */
import { createHash } from 'node:crypto';
import { SshgateError } from '../errors.js';

/** Keys remembered at most, and per principal (so that one caller cannot push another's out); the oldest go first. */
export const MAX_REQUEST_IDS = 20_000;
export const MAX_REQUEST_IDS_PER_PRINCIPAL = 1000;

/** What a call started: a task id per host (none for a host that did not start). Ids, never tasks: a key holds no output. */
export type StartedHosts = readonly { alias: string; taskId?: string }[];

interface Remembered {
  principal: string;
  /** A digest of the tool and its arguments (wait_seconds and max_bytes aside: how to answer, not what to run). */
  call: string;
  value: StartedHosts;
  until: number;
}

export class RequestIds {
  private readonly seen = new Map<string, Remembered>();
  private readonly perPrincipal = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * What an earlier call with this key started, or undefined for a new key; throws invalid_input
   * when the key was used for another call.
   */
  recall(principal: string, requestId: string, tool: string, args: Record<string, unknown>): StartedHosts | undefined {
    const key = keyOf(principal, requestId);
    const found = this.seen.get(key);
    if (!found) return undefined;
    if (found.until <= this.now()) {
      this.drop(key);
      return undefined;
    }
    if (found.call !== callDigest(tool, args)) {
      throw new SshgateError(
        'invalid_input',
        `request_id "${requestId}" was already used for another call`,
        'a request_id names one call: send a retry with exactly the same arguments, and a new call with a new request_id',
      );
    }
    return found.value;
  }

  /**
   * Keeps what the call started for `ttlMs`; a call that started nothing is not kept (its retry is
   * decided again), and neither is a key when `value` has no task.
   */
  remember(principal: string, requestId: string, tool: string, args: Record<string, unknown>, value: StartedHosts, ttlMs: number): void {
    const key = keyOf(principal, requestId);
    this.drop(key);
    if (!value.some((h) => h.taskId !== undefined)) return;
    this.prune();
    // The principal's oldest key goes first when it holds its share.
    if ((this.perPrincipal.get(principal) ?? 0) >= MAX_REQUEST_IDS_PER_PRINCIPAL) {
      for (const [k, v] of this.seen)
        if (v.principal === principal) {
          this.drop(k);
          break;
        }
    }
    this.seen.set(key, { principal, call: callDigest(tool, args), value, until: this.now() + ttlMs });
    this.perPrincipal.set(principal, (this.perPrincipal.get(principal) ?? 0) + 1);
    for (const k of this.seen.keys()) {
      if (this.seen.size <= MAX_REQUEST_IDS) break;
      this.drop(k);
    }
  }

  private drop(key: string): void {
    const found = this.seen.get(key);
    if (!found) return;
    this.seen.delete(key);
    const left = (this.perPrincipal.get(found.principal) ?? 1) - 1;
    if (left > 0) this.perPrincipal.set(found.principal, left);
    else this.perPrincipal.delete(found.principal);
  }

  /** Expired keys go; the oldest come first in the map, so the sweep stops at the first live one. */
  private prune(): void {
    const now = this.now();
    for (const [k, v] of this.seen) {
      if (v.until > now) break;
      this.drop(k);
    }
  }
}

function keyOf(principal: string, requestId: string): string {
  return `${principal}\0${requestId}`;
}

/** How to answer is not part of the call: a retry may wait longer or ask for less output. */
const NOT_THE_CALL = new Set(['request_id', 'wait_seconds', 'max_bytes']);

function callDigest(tool: string, args: Record<string, unknown>): string {
  const kept = Object.keys(args)
    .filter((k) => !NOT_THE_CALL.has(k) && args[k] !== undefined)
    .sort()
    .map((k) => [k, args[k]]);
  return createHash('sha256')
    .update(stable([tool, kept]))
    .digest('hex');
}

/** JSON with every object's keys sorted: a retry may list env's names in another order. */
function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
