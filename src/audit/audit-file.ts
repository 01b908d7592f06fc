/**
 * The audit file: one JSON line per audit record, appended only, each chained to the one before by
 * a hash — `hash = sha256(prev + "\n" + the record's JSON without its hash)` — so that changing,
 * removing or reordering any record breaks every hash after it. `sshgate audit verify` walks the
 * chain. A chain cannot show that records were cut off the end: keep the last hash it prints
 * somewhere else when that matters.
 */
import { createHash } from 'node:crypto';
import { processAlive } from '../process-alive.js';
import { closeSync, fstatSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';

export const GENESIS = '0'.repeat(64);

export interface ChainState {
  seq: number;
  hash: string;
}

export class AuditFile {
  private readonly fd: number;
  private state: ChainState;

  private readonly unlock: () => void;

  constructor(readonly path: string) {
    // One writer per chain: two servers appending to one file would fork it.
    this.unlock = holdWriterLock(`${path}.lock`);
    try {
      this.fd = openSync(path, 'a+', 0o600);
    } catch (err) {
      this.unlock();
      throw err;
    }
    if (fstatSync(this.fd).size > 0) {
      let v: Verification;
      try {
        v = verifyAuditFile(path);
        // Appending after a broken chain would bury the break: refuse, and say where it is.
        if (!v.ok) throw new Error(`the audit file ${path} fails verification at line ${v.line}: ${v.reason}`);
        // A last record whose newline never reached the disk: the next record must not join its line.
        const last = Buffer.alloc(1);
        readSync(this.fd, last, 0, 1, fstatSync(this.fd).size - 1);
        if (last[0] !== 0x0a) writeSync(this.fd, '\n');
      } catch (err) {
        closeSync(this.fd);
        this.unlock();
        throw err;
      }
      this.state = { seq: v.records, hash: v.lastHash };
    } else {
      this.state = { seq: 0, hash: GENESIS };
    }
  }

  append(record: Record<string, unknown>): void {
    const body = { seq: this.state.seq + 1, prev: this.state.hash, ...record };
    const hash = chainHash(this.state.hash, JSON.stringify(body));
    writeSync(this.fd, `${JSON.stringify({ ...body, hash })}\n`);
    this.state = { seq: body.seq, hash };
  }

  close(): void {
    closeSync(this.fd);
    this.unlock();
  }
}

/**
 * A lock file holding this process's pid, for as long as the process writes the file. A lock whose
 * process is gone is taken over; a live one is refused with its pid.
 */
function holdWriterLock(lockPath: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockPath, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      const release = () => {
        process.removeListener('exit', release);
        rmSync(lockPath, { force: true });
      };
      process.once('exit', release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(lockPath, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && processAlive(holder)) {
        throw new Error(`another sshgate (pid ${holder}) writes this audit file; give each server its own --audit-log`);
      }
      rmSync(lockPath, { force: true });
    }
  }
  throw new Error(`cannot take the lock ${lockPath}`);
}

export function chainHash(prev: string, json: string): string {
  return createHash('sha256').update(prev).update('\n').update(json).digest('hex');
}

export type Verification = { ok: true; records: number; lastHash: string } | { ok: false; line: number; reason: string; records: number };

/** Read at a time: the file is walked in bounded memory, however long it has grown. */
const READ_BYTES = 1 << 20;
/** Far above any record sshgate writes (a command is at most a few KiB): a longer line is not one. */
const MAX_LINE_BYTES = 16 << 20;
const TOO_LONG = Symbol('too long');

/** Checks every line of the file as verifyLines does, reading it piece by piece. */
export function verifyAuditFile(path: string, readBytes = READ_BYTES): Verification {
  const fd = openSync(path, 'r');
  try {
    return verifyLines(linesOf(fd, readBytes));
  } finally {
    closeSync(fd);
  }
}

/** The file's lines as bytes, without their newlines; a last line without one is a line too. */
function* linesOf(fd: number, readBytes: number): Generator<Buffer | typeof TOO_LONG> {
  const buf = Buffer.alloc(readBytes);
  let partial: Buffer[] = [];
  let partialBytes = 0;
  for (;;) {
    const n = readSync(fd, buf, 0, readBytes, null);
    if (n === 0) break;
    let start = 0;
    for (let nl = buf.indexOf(0x0a, 0); nl !== -1 && nl < n; nl = buf.indexOf(0x0a, start)) {
      partial.push(buf.subarray(start, nl));
      yield Buffer.concat(partial);
      partial = [];
      partialBytes = 0;
      start = nl + 1;
    }
    if (start < n) {
      partial.push(Buffer.from(buf.subarray(start, n)));
      partialBytes += n - start;
      if (partialBytes > MAX_LINE_BYTES) {
        yield TOO_LONG;
        return;
      }
    }
  }
  if (partial.length > 0) yield Buffer.concat(partial);
}

/** Checks every line: valid JSON, consecutive seq, prev equal to the hash before, its own hash right. */
export function verifyLines(lines: Iterable<Buffer | typeof TOO_LONG>): Verification {
  let prev = GENESIS;
  let seq = 0;
  let line = 0;
  for (const raw of lines) {
    line++;
    const fail = (reason: string): Verification => ({ ok: false, line, reason, records: seq });
    if (raw === TOO_LONG) return fail(`a line longer than ${MAX_LINE_BYTES >> 20} MiB is not a record`);
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      return fail('not a JSON record (the line was changed or cut)');
    }
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return fail('not a JSON object');
    const { hash, ...body } = rec;
    if (body.seq !== seq + 1) return fail(`seq is ${String(body.seq)}, expected ${seq + 1} (a record was removed, added or moved)`);
    if (body.prev !== prev) return fail('prev does not match the hash of the record before');
    if (hash !== chainHash(prev, JSON.stringify(body))) return fail('the hash does not match the record (the record was changed)');
    // The hash covers the record's meaning; the bytes must also be exactly as written, so that an
    // escaped or duplicated key, or a byte that is not UTF-8, cannot show a reader something else.
    if (!Buffer.from(JSON.stringify(rec)).equals(raw))
      return fail('the line is not byte for byte as written (escapes, spacing, a duplicate key or invalid UTF-8)');
    prev = hash;
    seq++;
  }
  return { ok: true, records: seq, lastHash: prev };
}
