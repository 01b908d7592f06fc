/**
 * The differential fuzzer: generate a line, ask the engine (each policy, as a host of each shell),
 * and run every line some policy allows in the real shell. A hit is a line the engine allowed that
 * created a file: the payload ran, or something wrote where nothing allowed may.
 */
import { classify } from './classify.js';
import { decideFor, type FuzzPolicy, type Shell } from './engine.js';
import { generateLine } from './generate.js';
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
  /** Lines judged per second of engine time alone. */
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
  progressMs?: number;
  onProgress?: (p: Progress) => void;
  onHit?: (h: Hit) => void;
}

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
  let failure: unknown;
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
      failure ??= err;
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

  for (let i = 0; i < opts.lines; i++) {
    const index = start + i;
    const { line, template } = generateLine(opts.seed, index);
    for (const shell of opts.shells) {
      const t0 = performance.now();
      const by = opts.policies.filter((p) => decideFor(p, shell, line).allowed).map((p) => p.name);
      engineMs += performance.now() - t0;
      if (by.length === 0) continue;
      allowed++;
      for (const p of by) allowedBy[`${p}/${shell}`] = (allowedBy[`${p}/${shell}`] ?? 0) + 1;
      const key = `${shell}\0${line}`;
      if (seen.has(key)) continue;
      seen.add(key);
      while (pending >= limit) await new Promise<void>((resolve) => (wake = resolve));
      if (failure) throw failure;
      pending++;
      void execute(line, shell, by, index, template);
    }
    const now = performance.now();
    if (opts.onProgress && now - lastReport >= (opts.progressMs ?? 1000)) {
      lastReport = now;
      opts.onProgress(progress(i + 1));
    }
    // Let results in now and then, even while nothing waits for a free slot.
    if (i % 256 === 255) await new Promise((resolve) => setImmediate(resolve));
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
