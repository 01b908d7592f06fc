import { describe, expect, it } from 'vitest';
import { SshgateError } from '../../../src/errors.js';
import { TaskManager, type RestoredTask, type TaskLimits } from '../../../src/tasks/task-manager.js';
import { cpuMs } from '../../support/cpu.js';
import { localExecutor } from '../../support/local-exec.js';

const limits = (l: Partial<TaskLimits> = {}): TaskLimits => ({
  max_seconds: 30,
  max_output_bytes: 1 << 20,
  max_concurrent_per_host: 4,
  task_result_ttl: 600,
  ...l,
});

describe('the task manager', () => {
  it('runs a task to succeeded or failed, with output, exit code and times', async () => {
    const tm = new TaskManager();
    const ok = tm.start('h1', 'echo out; echo err >&2', limits(), localExecutor('echo out; echo err >&2'));
    const bad = tm.start('h1', 'exit 3', limits(), localExecutor('exit 3'));
    expect(ok.id).toMatch(/^h1:[0-9a-f]{12}:\d+$/);
    await Promise.all([ok.done, bad.done]);
    expect(ok).toMatchObject({ state: 'succeeded', exitCode: 0 });
    expect(ok.stdout.read(0, 100).data.toString()).toBe('out\n');
    expect(ok.stderr.read(0, 100).data.toString()).toBe('err\n');
    expect(bad).toMatchObject({ state: 'failed', exitCode: 3 });
    expect(ok.endedAt).toBeGreaterThanOrEqual(ok.startedAt as number);
  });

  it('cancels a running task through its AbortController and reports it once', async () => {
    const tm = new TaskManager();
    const t = tm.start('h1', 'sleep 30', limits(), localExecutor('sleep 30'));
    await new Promise((r) => setTimeout(r, 100));
    expect(tm.cancel(t.id).result).toBe('cancelled');
    await t.done;
    expect(t).toMatchObject({ state: 'cancelled', signal: 'TERM' });
    expect(tm.cancel(t.id).result).toBe('already_finished');
    expect(tm.cancel('h1:000000000000:1').result).toBe('not_found');
  });

  it('times a task out through the same abort, with a timeout error', async () => {
    const tm = new TaskManager();
    const t = tm.start('h1', 'sleep 30', limits({ max_seconds: 1 }), localExecutor('sleep 30'));
    await t.done;
    expect(t.state).toBe('timed_out');
    expect(t.error?.code).toBe('timeout');
  });

  it('queues tasks beyond the per-host limit, and never runs more than the limit at once', async () => {
    const tm = new TaskManager();
    const tasks = Array.from({ length: 6 }, (_, i) =>
      tm.start('h1', `sleep 0.2 # ${i}`, limits({ max_concurrent_per_host: 2 }), localExecutor('sleep 0.2')),
    );
    const other = tm.start('h2', 'true', limits({ max_concurrent_per_host: 2 }), localExecutor('true'));
    expect(tasks.map((t) => t.state)).toEqual(['running', 'running', 'queued', 'queued', 'queued', 'queued']);
    expect(other.state).toBe('running');
    let peak = 0;
    const probe = setInterval(() => (peak = Math.max(peak, tm.list('running').filter((t) => t.alias === 'h1').length)), 10);
    await Promise.all(tasks.map((t) => t.done));
    clearInterval(probe);
    expect(peak).toBeLessThanOrEqual(2);
    expect(tasks.every((t) => t.state === 'succeeded')).toBe(true);
  });

  it('records each state a task is in once, the running one before its command is sent', async () => {
    const seen: string[] = [];
    const tm = new TaskManager({
      onChange: (t) => seen.push(`${t.command} ${t.state}`),
      onEnd: (t) => seen.push(`${t.command} ${t.state}`),
    });
    const exec =
      (name: string) =>
      (...args: Parameters<ReturnType<typeof localExecutor>>) => {
        seen.push(`${name} sent`);
        return localExecutor('true')(...args);
      };
    const one = limits({ max_concurrent_per_host: 1 });
    const a = tm.start('h1', 'a', one, exec('a'));
    const b = tm.start('h1', 'b', one, exec('b'));
    const held = tm.start('h2', 'c', one, exec('c'), { held: true });
    await Promise.all([a.done, b.done]);
    expect(tm.refuse(held.id, { code: 'policy_denied', message: 'no' })).toBe(true);
    expect(seen).toEqual([
      'a running',
      'a sent',
      'b queued',
      'c awaiting_approval',
      'a succeeded',
      'b running',
      'b sent',
      'b succeeded',
      'c denied',
    ]);
  });

  it('cancels a queued task without running it', async () => {
    const tm = new TaskManager();
    const first = tm.start('h1', 'sleep 1', limits({ max_concurrent_per_host: 1 }), localExecutor('sleep 1'));
    const queued = tm.start('h1', 'echo never', limits({ max_concurrent_per_host: 1 }), localExecutor('echo never'));
    tm.cancel(queued.id);
    await queued.done;
    expect(queued.state).toBe('cancelled');
    expect(queued.startedAt).toBeUndefined();
    expect(queued.stdout.written).toBe(0);
    tm.cancel(first.id);
    await first.done;
  });

  it('records an executor error as failed with its code, and a lost connection as lost', async () => {
    const tm = new TaskManager();
    const refused = tm.start('h1', 'x', limits(), () =>
      Promise.reject(new SshgateError('connect_failed', 'host "h1" refused the connection', 'check the port')),
    );
    const lost = tm.start('h1', 'y', limits(), () =>
      Promise.resolve({ exitCode: null, signal: null, lost: 'the connection to "h1" closed' }),
    );
    const bug = tm.start('h1', 'z', limits(), () => Promise.reject(new Error('secret internals')));
    await Promise.all([refused.done, lost.done, bug.done]);
    expect(refused).toMatchObject({ state: 'failed', error: { code: 'connect_failed', hint: 'check the port' } });
    expect(lost).toMatchObject({ state: 'lost', error: { code: 'lost' } });
    expect(bug.error).toEqual({ code: 'internal', message: 'the task failed unexpectedly', hint: 'see the server log' });
  });

  it('forgets finished tasks after their TTL and keeps the registry bounded', async () => {
    let now = 1_000_000;
    const tm = new TaskManager({ now: () => now, maxTasks: 3 });
    const a = tm.start('h1', 'true', limits({ task_result_ttl: 10 }), localExecutor('true'));
    await a.done;
    now += 9_000;
    expect(tm.get(a.id)).toBeDefined();
    now += 2_000;
    expect(tm.get(a.id)).toBeUndefined();
    const many = [];
    for (let i = 0; i < 5; i++) {
      const t = tm.start('h1', `true ${i}`, limits(), localExecutor('true'));
      await t.done;
      many.push(t);
    }
    expect(tm.list().length).toBeLessThanOrEqual(3);
    expect(tm.list()[0]?.id).toBe(many[4]?.id);
  });

  it('cancels every task on shutdown and waits for them', async () => {
    const tm = new TaskManager();
    const ts = [
      tm.start('h1', 'sleep 30', limits(), localExecutor('sleep 30')),
      tm.start('h2', 'sleep 30', limits(), localExecutor('sleep 30')),
    ];
    await new Promise((r) => setTimeout(r, 50));
    await tm.shutdown();
    expect(ts.map((t) => t.state)).toEqual(['cancelled', 'cancelled']);
  });

  it('wakes a waiter on new output and on the end, and restores finished tasks of an earlier run', async () => {
    const tm = new TaskManager();
    const t = tm.start('h1', 'sleep 0.3; echo late', limits(), localExecutor('sleep 0.3; echo late'));
    const t0 = Date.now();
    await tm.waitForChange(t, 5000);
    expect(Date.now() - t0).toBeLessThan(4000);
    await t.done;
    await tm.waitForChange(t, 5000); // ended: returns at once
    tm.restore([
      {
        id: 'h9:0123456789ab:1',
        alias: 'h9',
        command: 'x',
        limits: limits(),
        state: 'lost',
        createdAt: Date.now(),
        endedAt: Date.now(),
        exitCode: null,
        signal: null,
        error: { code: 'lost', message: 'gone' },
      },
    ]);
    expect(tm.get('h9:0123456789ab:1')).toMatchObject({ state: 'lost', error: { code: 'lost' } });
    expect(tm.cancel('h9:0123456789ab:1').result).toBe('already_finished');
  });

  it('restores 10,000 tasks of an earlier run into its 1,000 places in linear time', () => {
    const now = Date.now();
    const records = (n: number): RestoredTask[] =>
      Array.from({ length: n }, (_, i) => ({
        id: `h${i % 20}:${i.toString(16).padStart(12, '0')}:${i}`,
        alias: `h${i % 20}`,
        command: `echo ${i}`,
        limits: limits(),
        state: 'succeeded',
        createdAt: now - 60_000 + i,
        endedAt: now - 50_000 + i,
        exitCode: 0,
        signal: null,
      }));
    const big = records(10_000);
    let tm = new TaskManager();
    let ms = Infinity;
    // CPU time, the best of three: the first run also compiles the code.
    for (let round = 0; round < 3; round++) {
      ms = Math.min(
        ms,
        cpuMs(() => {
          tm = new TaskManager({ maxTasks: 1000 });
          tm.restore(big);
        }),
      );
    }
    // The newest are kept. A linear restore takes 5-30 ms here; evicting one task per pass over
    // the registry took 26 s.
    expect(tm.list().map((t) => t.id)).toEqual(
      big
        .slice(-999)
        .reverse()
        .map((r) => r.id),
    );
    expect(ms).toBeLessThan(250);
  });

  it("caps each caller's queue on a host, and evicts from the caller holding the most results", async () => {
    const tm = new TaskManager({ maxQueuedPerHost: 2, maxTasks: 6 });
    const slow = limits({ max_concurrent_per_host: 1 });
    const block = () => localExecutor('sleep 5');
    const running = tm.start('h1', 'a', slow, block(), { owner: 'alice' });
    tm.start('h1', 'b', slow, block(), { owner: 'alice' });
    tm.start('h1', 'c', slow, block(), { owner: 'alice' });
    expect(() => tm.start('h1', 'd', slow, block(), { owner: 'alice' })).toThrow(expect.objectContaining({ code: 'busy' }));
    const bobs = tm.start('h1', 'e', slow, block(), { owner: 'bob' }); // another caller still gets in line
    expect(bobs.state).toBe('queued');
    await tm.shutdown();
    expect(running.state).toBe('cancelled');

    const quick = new TaskManager({ maxTasks: 4 });
    const carol = quick.start('h2', 'true', limits(), localExecutor('true'), { owner: 'carol' });
    await carol.done;
    for (let i = 0; i < 5; i++) await quick.start('h2', `true ${i}`, limits(), localExecutor('true'), { owner: 'mallory' }).done;
    expect(quick.get(carol.id)).toBeDefined();
  });
});
