/**
 * The task registry against a model of what docs/tools.md promises, over random histories
 * (fast-check): a host runs at most max_concurrent_per_host tasks, in the order they were queued;
 * a caller may queue at most maxQueuedPerHost per host; a finished task is kept until its TTL and
 * beyond the bound the caller holding the most finished tasks loses the one that ended first (of
 * callers holding as many, the one whose oldest ended first). The model is the plain O(n) reading
 * of those sentences; the TaskManager keeps indexes instead, and must agree with it step by step.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TaskManager, type Executor, type Task, type TaskLimits } from '../../../src/tasks/task-manager.js';

const OWNERS = ['alice', 'bob', 'carol'] as const;
const HOSTS = ['h1', 'h2'] as const;

type Op =
  | { op: 'start'; owner: number; host: number; ttl: number }
  | { op: 'finish'; pick: number }
  | { op: 'cancel'; pick: number }
  | { op: 'tick'; ms: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('start' as const), owner: fc.nat(2), host: fc.nat(1), ttl: fc.constantFrom(5, 60) }),
  fc.record({ op: fc.constant('finish' as const), pick: fc.nat(50) }),
  fc.record({ op: fc.constant('cancel' as const), pick: fc.nat(50) }),
  fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 20_000 }) }),
);

interface ModelTask {
  id: string;
  owner: string;
  alias: string;
  ttl: number;
  state: 'queued' | 'running' | 'done';
  queuedAt: number;
  endedAt?: number;
  endSeq?: number;
}

/** The documented rules, read plainly: every question answered by a walk over all tasks. */
class Model {
  tasks: ModelTask[] = [];
  private seq = 0;
  private qseq = 0;
  constructor(
    private readonly max: number,
    private readonly maxQueued: number,
    private readonly concurrent: number,
  ) {}

  prune(now: number): void {
    this.tasks = this.tasks.filter((t) => !(t.state === 'done' && now - (t.endedAt as number) > t.ttl * 1000));
    while (this.tasks.length > this.max - 1) {
      const done = this.tasks.filter((t) => t.state === 'done');
      if (done.length === 0) return;
      const by = new Map<string, ModelTask[]>();
      for (const t of done) by.set(t.owner, [...(by.get(t.owner) ?? []), t]);
      let pick: ModelTask[] | undefined;
      for (const ts of by.values()) {
        ts.sort((a, b) => (a.endSeq as number) - (b.endSeq as number));
        if (
          !pick ||
          ts.length > pick.length ||
          (ts.length === pick.length && (ts[0] as ModelTask).endSeq! < (pick[0] as ModelTask).endSeq!)
        )
          pick = ts;
      }
      const victim = (pick as ModelTask[])[0] as ModelTask;
      this.tasks = this.tasks.filter((t) => t !== victim);
    }
  }

  canStart(owner: string, alias: string): boolean {
    return this.tasks.filter((t) => t.state === 'queued' && t.owner === owner && t.alias === alias).length < this.maxQueued;
  }

  add(t: ModelTask): void {
    t.queuedAt = this.qseq++;
    this.tasks.push(t);
    this.pump(t.alias);
  }

  end(t: ModelTask, now: number): void {
    const was = t.state;
    t.state = 'done';
    t.endedAt = now;
    t.endSeq = this.seq++;
    if (was === 'running' || was === 'queued') this.pump(t.alias);
  }

  pump(alias: string): void {
    const mine = this.tasks.filter((t) => t.alias === alias);
    let running = mine.filter((t) => t.state === 'running').length;
    for (const t of mine.filter((x) => x.state === 'queued').sort((a, b) => a.queuedAt - b.queuedAt)) {
      if (running >= this.concurrent) break;
      t.state = 'running';
      running++;
    }
  }
}

describe('the task registry', () => {
  it('agrees with the plain reading of its rules over random histories', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 120 }), fc.integer({ min: 4, max: 12 }), async (ops, max) => {
        let now = 1_000_000;
        const concurrent = 2;
        const maxQueued = 3;
        const tm = new TaskManager({ now: () => now, maxTasks: max, maxQueuedPerHost: maxQueued });
        const model = new Model(max, maxQueued, concurrent);
        /** The executors' ends, by task id: a task finishes when the history says so. */
        const release = new Map<string, () => void>();
        const byId = new Map<string, ModelTask>();
        const settle = () => new Promise((r) => setImmediate(r));
        for (const o of ops) {
          if (o.op === 'tick') now += o.ms;
          if (o.op === 'start') {
            const owner = OWNERS[o.owner] as string;
            const alias = HOSTS[o.host] as string;
            model.prune(now);
            const limits: TaskLimits = {
              max_seconds: 3600,
              max_output_bytes: 1024,
              max_concurrent_per_host: concurrent,
              task_result_ttl: o.ttl,
            };
            // The executor may run inside start, before the id is known: it leaves its end in a box.
            const box: { end?: () => void } = {};
            const executor: Executor = () => new Promise((resolve) => (box.end = () => resolve({ exitCode: 0, signal: null })));
            if (!model.canStart(owner, alias)) {
              expect(() => tm.start(alias, 'true', limits, executor, { owner })).toThrow(expect.objectContaining({ code: 'busy' }));
              continue;
            }
            const task: Task = tm.start(alias, 'true', limits, executor, { owner });
            release.set(task.id, () => box.end?.());
            const m: ModelTask = { id: task.id, owner, alias, ttl: o.ttl, state: 'queued', queuedAt: 0 };
            byId.set(task.id, m);
            model.add(m);
          }
          if (o.op === 'finish' || o.op === 'cancel') {
            const open = model.tasks.filter((t) => (o.op === 'finish' ? t.state === 'running' : t.state !== 'done'));
            const t = open[o.pick % Math.max(1, open.length)];
            if (!t) continue;
            if (o.op === 'finish') (release.get(t.id) as () => void)();
            else tm.cancel(t.id);
            // A cancelled running task ends when its executor does; these end at once.
            if (o.op === 'cancel' && t.state === 'running') (release.get(t.id) as () => void)();
            await settle();
            model.end(t, now);
          }
          await settle();
          model.prune(now);
          const kept = tm
            .list()
            .map((t) => t.id)
            .sort();
          expect(kept).toEqual(model.tasks.map((t) => t.id).sort());
          for (const t of tm.list()) {
            const m = byId.get(t.id) as ModelTask;
            expect(t.state === 'queued' || t.state === 'running' ? t.state : 'done', t.id).toBe(m.state);
          }
        }
        for (const r of release.values()) r();
        await tm.shutdown();
      }),
      { numRuns: 150 },
    );
  });
});
