/**
 * The records of a task's end (its audit record, its journal line) written just after the turn
 * that ended it rather than in it: the task's waiters are answered first, so a caller of ssh_run
 * does not wait on two synchronous writes (docs/tools.md, the task journal). A crash in between loses
 * the end's records, not the task's start: the journal then brings the task back as lost, as it
 * does for one that was running. Records still pending are written before a task is forgotten
 * (whose journal line must come after its end's) and when the server stops.
 */
import type { Task } from './task-manager.js';

export class EndRecords {
  private pending: Task[] = [];
  private scheduled = false;

  constructor(private readonly write: (task: Task) => void) {}

  add(task: Task): void {
    this.pending.push(task);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Writes every record still pending, in the order the tasks ended. */
  flush(): void {
    this.scheduled = false;
    const tasks = this.pending;
    this.pending = [];
    for (const task of tasks) {
      try {
        this.write(task);
      } catch {
        // Best effort, as TaskManager's onEnd is: the task has ended either way.
      }
    }
  }
}
