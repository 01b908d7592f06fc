/**
 * Task ids: `alias:hash:timestamp`. The hash is the first 12 hex digits of sha256(command), the
 * timestamp microseconds since the epoch, bumped when two tasks of one host would collide. An
 * alias never contains ":", so an id splits into exactly three parts.
 */
import { createHash } from 'node:crypto';
import { setBounded } from '../bounded-map.js';

const ALIAS_RE = /^[A-Za-z0-9._-]{1,100}$/;
const HASH_RE = /^[0-9a-f]{12}$/;
const MICROS_RE = /^[0-9]{1,20}$/;

export interface TaskIdParts {
  alias: string;
  hash: string;
  micros: bigint;
}

const HASH_MEMO_SIZE = 256;
const hashMemo = new Map<string, string>();

/**
 * The first 12 hex digits of sha256(command). Remembered for the last commands hashed: a task's
 * command is hashed for its id, its decision's audit record and its end's, and agents repeat
 * commands (a fan-out, a poll loop).
 */
export function commandHash(command: string): string {
  let hash = hashMemo.get(command);
  if (hash === undefined) {
    hash = createHash('sha256').update(command, 'utf8').digest('hex').slice(0, 12);
    setBounded(hashMemo, command, hash, HASH_MEMO_SIZE);
  }
  return hash;
}

/** Hands out ids; remembers the last timestamp per host so ids of one host never repeat. */
export class TaskIdFactory {
  private readonly last = new Map<string, bigint>();

  constructor(private readonly nowMicros: () => bigint = () => BigInt(Date.now()) * 1000n) {}

  next(alias: string, command: string): string {
    const previous = this.last.get(alias) ?? -1n;
    const now = this.nowMicros();
    const micros = now > previous ? now : previous + 1n;
    this.last.set(alias, micros);
    return `${alias}:${commandHash(command)}:${micros}`;
  }
}

/** The parts of a well-formed id, or undefined: a malformed id is told apart from an unknown one. */
export function parseTaskId(id: string): TaskIdParts | undefined {
  const parts = id.split(':');
  if (parts.length !== 3) return undefined;
  const [alias, hash, micros] = parts as [string, string, string];
  if (!ALIAS_RE.test(alias) || !HASH_RE.test(hash) || !MICROS_RE.test(micros)) return undefined;
  return { alias, hash, micros: BigInt(micros) };
}
