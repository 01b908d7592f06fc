/**
 * The engine's half of the fuzzer: generate lines and decide each as a host of each shell under
 * each policy, in this thread or spread over worker threads (engine-worker.ts), batch by batch.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { decideFor, type FuzzPolicy, type Shell } from './engine.js';
import { generateLine } from './generate.js';

/** A generated line that some policy allows, with who allows it. */
export interface Judged {
  index: number;
  line: string;
  template: string;
  allowed: { shell: Shell; policies: string[] }[];
}

export interface Batch {
  judged: Judged[];
  /** Time spent deciding, without generating. */
  engineMs: number;
}

export interface Judge {
  /** Lines start … start+count-1 of the seed, those allowed anywhere. */
  batch(start: number, count: number): Promise<Batch>;
  /** How many batches it works on at once. */
  readonly parallel: number;
  close(): Promise<void>;
}

export function judgeBatch(seed: number, start: number, count: number, shells: readonly Shell[], policies: readonly FuzzPolicy[]): Batch {
  const judged: Judged[] = [];
  let engineMs = 0;
  for (let index = start; index < start + count; index++) {
    const { line, template } = generateLine(seed, index);
    const allowed: Judged['allowed'] = [];
    for (const shell of shells) {
      const t0 = performance.now();
      const by = policies.filter((p) => decideFor(p, shell, line).allowed).map((p) => p.name);
      engineMs += performance.now() - t0;
      if (by.length > 0) allowed.push({ shell, policies: by });
    }
    if (allowed.length > 0) judged.push({ index, line, template, allowed });
  }
  return { judged, engineMs };
}

export function inThisThread(seed: number, shells: readonly Shell[], policies: readonly FuzzPolicy[]): Judge {
  return {
    parallel: 1,
    batch: async (start, count) => {
      const b = judgeBatch(seed, start, count, shells, policies);
      // Let execution results in between batches.
      await new Promise((resolve) => setImmediate(resolve));
      return b;
    },
    close: async () => {},
  };
}

export interface WorkerData {
  seed: number;
  shells: Shell[];
  policyPaths: string[];
}

/**
 * `n` worker threads, each with its own parser and engines; batches go round the workers. Only
 * where the worker is compiled (dist-fuzz/): under vitest, undefined, and the caller judges in
 * its own thread.
 */
export function inWorkers(n: number, seed: number, shells: readonly Shell[], policies: readonly FuzzPolicy[]): Judge | undefined {
  const url = new URL('./engine-worker.js', import.meta.url);
  if (n < 1 || !existsSync(fileURLToPath(url))) return undefined;
  const data: WorkerData = { seed, shells: [...shells], policyPaths: policies.map((p) => p.path) };
  const workers = Array.from({ length: n }, () => new Worker(url, { workerData: data }));
  const waiting = workers.map(() => [] as { resolve: (b: Batch) => void; reject: (e: unknown) => void }[]);
  workers.forEach((w, i) => {
    w.on('message', (b: Batch) => waiting[i]?.shift()?.resolve(b));
    w.on('error', (err) => {
      for (const p of waiting[i]?.splice(0) ?? []) p.reject(err);
    });
  });
  let next = 0;
  return {
    parallel: 2 * n,
    batch: (start, count) => {
      const i = next++ % n;
      return new Promise<Batch>((resolve, reject) => {
        waiting[i]?.push({ resolve, reject });
        workers[i]?.postMessage({ start, count });
      });
    },
    close: async () => {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
