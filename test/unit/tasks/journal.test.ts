import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TaskJournal } from '../../../src/tasks/journal.js';
import type { Task } from '../../../src/tasks/task-manager.js';
import { OutputBuffer } from '../../../src/tasks/output-buffer.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sshgate-journal-'));
  dirs.push(d);
  return d;
}

const limits = { max_seconds: 60, max_output_bytes: 1024, max_concurrent_per_host: 4, task_result_ttl: 600 };
function task(id: string, state: Task['state'], extra: Partial<Task> = {}): Task {
  return { id, alias: id.split(':')[0] as string, command: 'sleep 9', limits, state, createdAt: 1_000, exitCode: null, signal: null, stdout: new OutputBuffer(0), stderr: new OutputBuffer(0), done: Promise.resolve(), ...extra };
}

describe('the task journal', () => {
  it("turns an ended server's unfinished tasks into lost ones, once, and keeps finished ones", () => {
    const dir = stateDir();
    const old = new TaskJournal(dir, 111, () => false);
    old.record(task('h1:000000000001:1', 'running', { startedAt: 1_000 }));
    old.record(task('h1:000000000002:2', 'succeeded', { exitCode: 0, endedAt: Date.now() }));
    old.record(task('h1:000000000003:3', 'queued'));
    const next = new TaskJournal(dir, 222, () => false);
    const restored = next.recover(Date.now());
    expect(restored.map((t) => [t.id, t.state])).toEqual([
      ['h1:000000000001:1', 'lost'],
      ['h1:000000000002:2', 'succeeded'],
      ['h1:000000000003:3', 'lost'],
    ]);
    expect(restored[0]?.error).toMatchObject({ code: 'lost', message: expect.stringContaining('server pid 111') });
    // A third start reads the lost records as they were written, and does not re-judge them.
    const third = new TaskJournal(dir, 333, () => false).recover(Date.now());
    expect(third.map((t) => t.state)).toEqual(['lost', 'succeeded', 'lost']);
  });

  it('leaves the running tasks of a server that still runs alone', () => {
    const dir = stateDir();
    new TaskJournal(dir, 111).record(task('h1:000000000001:1', 'running'));
    expect(new TaskJournal(dir, 222, (pid) => pid === 111).recover(Date.now())).toEqual([]);
  });

  it('forgets tasks past their TTL and skips lines it cannot read', () => {
    const dir = stateDir();
    const j = new TaskJournal(dir, 111, () => false);
    j.record(task('h1:000000000001:1', 'failed', { exitCode: 1, endedAt: Date.now() - 700_000 }));
    appendFileSync(join(dir, 'tasks.111.jsonl'), 'not json\n{"id": 5}\n\u0000\u0001\n');
    j.record(task('h1:000000000002:2', 'succeeded', { exitCode: 0, endedAt: Date.now() }));
    expect(new TaskJournal(dir, 222, () => false).recover(Date.now()).map((t) => t.id)).toEqual(['h1:000000000002:2']);
    expect(readFileSync(join(dir, 'tasks.222.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('keeps two live servers sharing the dir out of each other\'s files', () => {
    const dir = stateDir();
    const alive = new Set([111, 222]);
    const a = new TaskJournal(dir, 111, (p) => alive.has(p));
    a.record(task('h1:00000000000a:1', 'running', { startedAt: 1_000 }));
    const b = new TaskJournal(dir, 222, (p) => alive.has(p));
    expect(b.recover(Date.now())).toEqual([]);
    b.record(task('h2:00000000000b:2', 'succeeded', { exitCode: 0, endedAt: Date.now() }));
    a.record(task('h1:00000000000a:1', 'succeeded', { exitCode: 0, endedAt: Date.now() }));
    alive.clear();
    const restored = new TaskJournal(dir, 333, () => false).recover(Date.now());
    expect(restored.map((t) => [t.id, t.state])).toEqual([
      ['h1:00000000000a:1', 'succeeded'],
      ['h2:00000000000b:2', 'succeeded'],
    ]);
  });
});

