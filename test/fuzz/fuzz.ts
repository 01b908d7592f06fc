/**
 * The differential fuzzer: generate a line, ask the engine (each policy, as a host of each shell),
 * and run every line some policy allows in the real shell. A hit is a line the engine allowed that
 * created a file: the payload ran, or something wrote where nothing allowed may.
 */
import { classify } from './classify.js';
import { decideFor, type FuzzPolicy, type Shell } from './engine.js';
import { inThisThread, inWorkers, type Batch } from './judge.js';
import type { RunResult } from './runner.js';
import type { Executor, Pool } from './sandbox.js';

export interface Hit {
  line: string;
  shell: Shell;
  /** The policies that allowed it. */
  policies: string[];
  seed: number;
  index: number;
  template: string;
  /** What the line created: absolute paths in the sandbox. */
  created: string[];
  /** It printed the SECRET fixture, which the policies deny. */
  leaked: boolean;
  exec: Executor['mode'];
  class: string;
}

export interface Progress {
  lines: number;
  seconds: number;
  /** Lines generated and judged (every policy, every shell) per second of wall time. */
  linesPerSecond: number;
  /** Lines judged per second of engine time alone (one thread's time: the sum over workers). */
  engineLinesPerSecond: number;
  allowed: number;
  executed: number;
  executionsPerSecond: number;
  hits: number;
}

export interface Summary extends Progress {
  seed: number;
  start: number;
  shells: Shell[];
  policies: string[];
  exec: Executor['mode'];
  /** Lines allowed, by `policy/shell`. */
  allowedBy: Record<string, number>;
  /** Executions that hit the time limit. */
  timedOut: number;
  hitsByClass: Record<string, number>;
  hitsByShell: Record<string, number>;
  hitsByTemplate: Record<string, number>;
  hitList: Hit[];
}

export interface FuzzOptions {
  lines: number;
  seed: number;
  /** The index of the first line (to continue a run, or to replay one line). */
  start?: number;
  shells: readonly Shell[];
  policies: readonly FuzzPolicy[];
  pool: Pool;
  executor: Executor;
  /** Executions queued at once; beyond it generation waits. */
  inFlight?: number;
  /** Worker threads that generate and judge lines (only when compiled, in dist-fuzz/); 0: this thread. */
  engineWorkers?: number;
  progressMs?: number;
  onProgress?: (p: Progress) => void;
  onHit?: (h: Hit) => void;
}

/** Lines generated and judged at a time. */
const BATCH = 256;

export async function fuzz(opts: FuzzOptions): Promise<Summary> {
  const start = opts.start ?? 0;
  const limit = opts.inFlight ?? 64;
  const began = performance.now();
  let engineMs = 0;
  let allowed = 0;
  let executed = 0;
  let timedOut = 0;
  const allowedBy: Record<string, number> = {};
  const hits: Hit[] = [];
  /** One execution per (shell, line), however often the generator repeats it. */
  const seen = new Set<string>();
  let pending = 0;
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  let lastReport = began;

  const progress = (lines: number): Progress => {
    const seconds = (performance.now() - began) / 1000;
    return {
      lines,
      seconds,
      linesPerSecond: lines / seconds,
      engineLinesPerSecond: lines / (engineMs / 1000 || 1e-9),
      allowed,
      executed,
      executionsPerSecond: executed / seconds,
      hits: hits.length,
    };
  };

  const execute = async (line: string, shell: Shell, policies: string[], index: number, template: string): Promise<void> => {
    let result: RunResult;
    try {
      result = await opts.pool.run(opts.executor.argv(shell, line));
    } catch (err) {
      failure ??= err instanceof Error ? err : new Error(String(err));
      return;
    } finally {
      pending--;
      wake?.();
    }
    executed++;
    if (result.timedOut) timedOut++;
    if (result.created.length === 0 && !result.leaked) return;
    const hit: Hit = {
      line,
      shell,
      policies,
      seed: opts.seed,
      index,
      template,
      created: result.created,
      leaked: result.leaked,
      exec: opts.executor.mode,
      class: classify(line, shell, (l) => opts.policies.some((p) => policies.includes(p.name) && decideFor(p, shell, l).allowed)),
    };
    hits.push(hit);
    opts.onHit?.(hit);
  };

  const judge =
    inWorkers(opts.engineWorkers ?? 0, opts.seed, opts.shells, opts.policies) ?? inThisThread(opts.seed, opts.shells, opts.policies);
  const batches: Promise<Batch>[] = [];
  let judgedLines = 0;
  let nextStart = start;
  const end = start + opts.lines;
  const request = () => {
    if (nextStart >= end) return;
    const count = Math.min(BATCH, end - nextStart);
    batches.push(judge.batch(nextStart, count).then((b) => ({ ...b, count })));
    nextStart += count;
  };
  try {
    for (let i = 0; i < judge.parallel; i++) request();
    // Batches are taken in order, so a run's hits come in the same order every time.
    for (let b = batches.shift(); b; b = batches.shift()) {
      const batch = (await b) as Batch & { count: number };
      request();
      engineMs += batch.engineMs;
      judgedLines += batch.count;
      for (const j of batch.judged) {
        for (const { shell, policies: by } of j.allowed) {
          allowed++;
          for (const p of by) allowedBy[`${p}/${shell}`] = (allowedBy[`${p}/${shell}`] ?? 0) + 1;
          const key = `${shell}\0${j.line}`;
          if (seen.has(key)) continue;
          seen.add(key);
          while (pending >= limit) await new Promise<void>((resolve) => (wake = resolve));
          if (failure) throw failure;
          pending++;
          void execute(j.line, shell, by, j.index, j.template);
        }
      }
      const now = performance.now();
      if (opts.onProgress && now - lastReport >= (opts.progressMs ?? 1000)) {
        lastReport = now;
        opts.onProgress(progress(judgedLines));
      }
    }
  } finally {
    await judge.close();
  }
  while (pending > 0) await new Promise<void>((resolve) => (wake = resolve));
  if (failure) throw failure;

  const count = (key: (h: Hit) => string) => {
    const out: Record<string, number> = {};
    for (const h of hits) out[key(h)] = (out[key(h)] ?? 0) + 1;
    return out;
  };
  return {
    ...progress(opts.lines),
    seed: opts.seed,
    start,
    shells: [...opts.shells],
    policies: opts.policies.map((p) => p.name),
    exec: opts.executor.mode,
    allowedBy,
    timedOut,
    hitsByClass: count((h) => h.class),
    hitsByShell: count((h) => h.shell),
    hitsByTemplate: count((h) => h.template),
    hitList: hits,
  };
}
