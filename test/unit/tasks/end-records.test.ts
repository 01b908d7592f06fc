import { describe, expect, it } from 'vitest';
import { EndRecords } from '../../../src/tasks/end-records.js';
import type { Task } from '../../../src/tasks/task-manager.js';

const task = (id: string) => ({ id }) as Task;
const nextTurn = () => new Promise((r) => setImmediate(r));

describe('the records of task ends', () => {
  it('are written after the turn that ended the tasks, in the order they ended', async () => {
    const written: string[] = [];
    const records = new EndRecords((t) => written.push(t.id));
    records.add(task('a'));
    records.add(task('b'));
    // What the ending turn queues (a waiter's answer) comes before them.
    await Promise.resolve().then(() => written.push('answer'));
    expect(written).toEqual(['answer']);
    await nextTurn();
    expect(written).toEqual(['answer', 'a', 'b']);
  });

  it('are written at once when flushed (before a forget, at shutdown), and only once', async () => {
    const written: string[] = [];
    const records = new EndRecords((t) => written.push(t.id));
    records.add(task('a'));
    records.flush();
    expect(written).toEqual(['a']);
    await nextTurn();
    records.add(task('b'));
    await nextTurn();
    expect(written).toEqual(['a', 'b']);
  });

  it('go on past a record that fails', async () => {
    const written: string[] = [];
    const records = new EndRecords((t) => {
      if (t.id === 'a') throw new Error('disk full');
      written.push(t.id);
    });
    records.add(task('a'));
    records.add(task('b'));
    await nextTurn();
    expect(written).toEqual(['b']);
  });
});
