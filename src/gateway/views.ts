/**
 * How a task looks to a caller: its result, its status, and its output read by cursor. Output is
 * bytes; it is handed out as UTF-8 text cut only at character boundaries, so a character split
 * across two reads is never garbled (an unfinished one waits for the next read).
 */
import type { OutputBuffer } from '../tasks/output-buffer.js';
import type { Task } from '../tasks/task-manager.js';
import { isFinal } from '../tasks/task-manager.js';
import type * as S from './schemas.js';

export function runResult(task: Task): S.RunResult {
  return {
    task_id: task.id,
    state: task.state,
    exit_code: task.exitCode,
    signal: task.signal,
    stdout: keptText(task.stdout),
    stderr: keptText(task.stderr),
    truncated: task.stdout.truncated || task.stderr.truncated,
    duration_ms: durationOf(task) ?? 0,
    ...(task.error ? { error: task.error } : {}),
  };
}

export function taskStatus(task: Task): S.TaskStatus {
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  return {
    task_id: task.id,
    alias: task.alias,
    command: task.command,
    state: task.state,
    exit_code: task.exitCode,
    signal: task.signal,
    created_at: new Date(task.createdAt).toISOString(),
    started_at: iso(task.startedAt),
    ended_at: iso(task.endedAt),
    duration_ms: durationOf(task),
    stdout_bytes: task.stdout.written,
    stderr_bytes: task.stderr.written,
    ...(task.error ? { error: task.error } : {}),
  };
}

export interface Cursor {
  stdout: number;
  stderr: number;
}

export function readOutput(task: Task, cursor: Cursor, maxBytes: number): S.TaskOutputResult {
  const final = isFinal(task.state);
  const out = readText(task.stdout, cursor.stdout, maxBytes, final);
  const err = readText(task.stderr, cursor.stderr, maxBytes, final);
  const next = { stdout: out.next, stderr: err.next };
  return {
    task_id: task.id,
    state: task.state,
    stdout: out.text,
    stderr: err.text,
    next_cursor: next,
    done: final && next.stdout >= task.stdout.written && next.stderr >= task.stderr.written,
    dropped_bytes: { stdout: out.dropped, stderr: err.dropped },
  };
}

/** True when the buffer holds bytes past the cursor (or bytes were dropped past it). */
export function hasNew(task: Task, cursor: Cursor): boolean {
  return task.stdout.written > cursor.stdout || task.stderr.written > cursor.stderr;
}

function durationOf(task: Task): number | null {
  if (task.startedAt === undefined) return null;
  return (task.endedAt ?? Date.now()) - task.startedAt;
}

function readText(buffer: OutputBuffer, cursor: number, maxBytes: number, final: boolean): { text: string; next: number; dropped: number } {
  const chunk = buffer.read(cursor, maxBytes);
  let data = chunk.data;
  // Hold back an unfinished character at the end, unless no more bytes can come after it.
  const atEnd = chunk.next >= buffer.written;
  if (!(final && atEnd)) data = data.subarray(0, utf8Boundary(data));
  return { text: data.toString('utf8'), next: chunk.next - (chunk.data.length - data.length), dropped: chunk.dropped };
}

/** The length of the longest prefix of `b` that does not end inside a UTF-8 sequence. */
export function utf8Boundary(b: Buffer): number {
  const n = b.length;
  for (let back = 1; back <= Math.min(3, n); back++) {
    const byte = b[n - back] as number;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

/** The kept output as text; where the middle was dropped, a marker says how much. */
function keptText(buffer: OutputBuffer): string {
  const head = buffer.read(0, Math.ceil(buffer.limit / 2));
  if (head.next >= buffer.written) return head.data.toString('utf8');
  const rest = buffer.read(head.next, buffer.limit);
  const dropped = rest.dropped ? `\n[… ${rest.dropped} bytes dropped …]\n` : '';
  return head.data.toString('utf8') + dropped + rest.data.toString('utf8');
}
