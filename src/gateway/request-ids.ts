/**
 * No double execution on retry. A caller that sends a run tool's `request_id` (an idempotency
 * key) and sends the same call again — its connection broke before the answer came, its client
 * retried on a timeout — gets the task (or fan-out) of the first call back instead of a second
 * run. A key is the caller's own (principal name and key), lives as long as the task result would
 * (task_result_ttl), and binds the exact call: the same key with other arguments is refused.
 */
import { createHash } from 'node:crypto';
import { SshgateError } from '../errors.js';

/** Keys remembered at most; the oldest goes first. A key is a few hundred bytes. */
export const MAX_REQUEST_IDS = 20_000;

interface Remembered<T> {
  /** A digest of the tool and its arguments (wait_seconds and max_bytes aside: how to answer, not what to run). */
  call: string;
  value: T;
  until: number;
}

export class RequestIds<T> {
  private readonly seen = new Map<string, Remembered<T>>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * What an earlier call with this key started, or undefined for a new key; throws invalid_input
   * when the key was used for another call.
   */
  recall(principal: string, requestId: string, tool: string, args: Record<string, unknown>): T | undefined {
    const key = keyOf(principal, requestId);
    const found = this.seen.get(key);
    if (!found) return undefined;
    if (found.until <= this.now()) {
      this.seen.delete(key);
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

  remember(principal: string, requestId: string, tool: string, args: Record<string, unknown>, value: T, ttlMs: number): void {
    const key = keyOf(principal, requestId);
    this.seen.delete(key);
    this.seen.set(key, { call: callDigest(tool, args), value, until: this.now() + ttlMs });
    if (this.seen.size > MAX_REQUEST_IDS) this.prune();
  }

  private prune(): void {
    const now = this.now();
    for (const [k, v] of this.seen) if (v.until <= now) this.seen.delete(k);
    for (const k of this.seen.keys()) {
      if (this.seen.size <= MAX_REQUEST_IDS) break;
      this.seen.delete(k);
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
