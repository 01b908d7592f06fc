/**
 * How a task looks to a caller: its result, its status, and its output read by cursor. Output is
 * bytes; it is handed out as UTF-8 text cut only at character boundaries, so a character split
 * across two reads is never garbled (an unfinished one waits for the next read).
 */
import type { OutputBuffer } from '../tasks/output-buffer.js';
import type { Task } from '../tasks/task-manager.js';
import { isFinal } from '../tasks/task-manager.js';
import { whole } from '../errors.js';
import { prefixWithin, STREAM_COST, suffixWithin } from './budget.js';

/** The most of a command a task status shows. */
const STATUS_COMMAND_CHARS = 1000;
import type * as S from './tool-contract.js';

/**
 * A task's result with its output budgeted: each stream shows at most `maxBytes` (head and tail
 * around a marker when there is more) and costs at most `maxCost` in the message. `read_cursor`
 * is where ssh_get_task_output goes on from: the first byte not shown, or the end of what was.
 */
export function runResult(task: Task, maxBytes: number, maxCost = STREAM_COST): S.RunResult {
  const final = isFinal(task.state);
  const out = inlineOutput(task.stdout, maxBytes, maxCost, final);
  const err = inlineOutput(task.stderr, maxBytes, maxCost, final);
  return {
    task_id: task.id,
    state: task.state,
    exit_code: task.exitCode,
    signal: task.signal,
    stdout: out.text,
    stderr: err.text,
    truncated: task.stdout.truncated || task.stderr.truncated,
    stdout_bytes: task.stdout.written,
    stderr_bytes: task.stderr.written,
    omitted_bytes: { stdout: out.omitted, stderr: err.omitted },
    read_cursor: { stdout: out.cursor, stderr: err.cursor },
    duration_ms: durationOf(task) ?? 0,
    limits: { ...task.limits },
    ...(task.become !== undefined ? { become: task.become } : {}),
    ...(task.error ? { error: task.error } : {}),
    ...approvalOf(task),
  };
}

/** The approval a task awaits or awaited, with what the caller can do about it while it waits. */
function approvalOf(task: Task): { approval?: S.TaskApproval } {
  if (!task.approval) return {};
  const { id, deadline } = task.approval;
  const waiting = task.state === 'awaiting_approval';
  return {
    approval: {
      approval_id: id,
      deadline: new Date(deadline).toISOString(),
      ...(waiting
        ? {
            note: `a person must approve this command before it runs (approval ${id}); poll ssh_get_task_status, or cancel it with ssh_cancel`,
          }
        : {}),
    },
  };
}

export function taskStatus(task: Task): S.TaskStatus {
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  return {
    task_id: task.id,
    alias: task.alias,
    // A command may be 16 KiB: a status (and a list of a thousand) shows its start.
    command:
      task.command.length > STATUS_COMMAND_CHARS
        ? `${whole(task.command, STATUS_COMMAND_CHARS)}… (${task.command.length - STATUS_COMMAND_CHARS} more characters)`
        : task.command,
    ...(task.become !== undefined ? { become: task.become } : {}),
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
    ...approvalOf(task),
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
  // A shorter read is read again rather than cut: the data may jump over bytes the buffer dropped,
  // and only the buffer knows where the cursor then stands.
  let chunk = buffer.read(cursor, maxBytes);
  // What escaping would make too large for one message waits for the next read.
  const fits = prefixWithin(chunk.data, STREAM_COST);
  if (fits < chunk.data.length) chunk = buffer.read(cursor, fits);
  // Hold back an unfinished character at the end, unless no more bytes can come after it.
  if (!(final && chunk.next >= buffer.written)) {
    const whole = utf8Boundary(chunk.data);
    if (whole < chunk.data.length) chunk = buffer.read(cursor, whole);
  }
  return { text: chunk.data.toString('utf8'), next: chunk.next, dropped: chunk.dropped };
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

interface Inline {
  text: string;
  /** Bytes of the stream between head and tail that the text leaves out, kept or not. */
  omitted: number;
  cursor: number;
}

/**
 * What a result shows of one stream: all of it when it fits, else the head and the tail around a
 * marker that says how much was left out and how to read it. Of a running task, an unfinished
 * character at the end is held back.
 */
export function inlineOutput(buffer: OutputBuffer, maxBytes: number, maxCost: number, final: boolean): Inline {
  const total = buffer.written;
  if (total <= maxBytes && !buffer.truncated) {
    const data = buffer.read(0, total).data;
    let n = prefixWithin(data, maxCost);
    if (n === data.length) {
      if (!final) n = utf8Boundary(data);
      return { text: data.subarray(0, n).toString('utf8'), omitted: 0, cursor: n };
    }
  }
  // The head comes from the kept head of the buffer only, never across what it dropped.
  const headData = buffer.read(0, Math.min(Math.floor(maxBytes / 2), Math.ceil(buffer.limit / 2), total)).data;
  // A character cut by the byte budget waits for the cursor read, not shown as U+FFFD.
  const head = utf8Boundary(headData.subarray(0, prefixWithin(headData, Math.floor(maxCost / 2))));
  // The tail comes from the kept tail only, so that what is read from `from` on is contiguous.
  const keptTail = buffer.truncated ? total - (buffer.limit - Math.ceil(buffer.limit / 2)) : 0;
  const from = Math.max(head, keptTail, total - (maxBytes - head));
  const chunk = buffer.read(from, total - from);
  const s = suffixWithin(chunk.data, Math.floor(maxCost / 2));
  let tailData = chunk.data.subarray(s);
  if (!final) tailData = tailData.subarray(0, utf8Boundary(tailData));
  const omitted = chunk.next - chunk.data.length + s - head;
  const notKept = Math.min(buffer.dropped, omitted);
  const marker = `\n[… ${omitted} bytes not shown${notKept ? ` (${notKept} of them no longer kept: beyond max_output_bytes)` : ''}; ssh_get_task_output from read_cursor reads them …]\n`;
  return { text: headData.subarray(0, head).toString('utf8') + marker + tailData.toString('utf8'), omitted, cursor: head };
}

/** A task that ended with an error and no exit status never ran, or its outcome is unknown. */
export function neverRan(task: Task): boolean {
  return (task.state === 'failed' || task.state === 'lost') && task.exitCode === null && task.signal === null && task.error !== undefined;
}
