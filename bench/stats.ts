/** Timing helpers shared by the benchmarks, and how they start a server. */
import { ALLOW_ALL_POLICY } from '../test/support/mcp.js';

/**
 * The rate limits and quotas a benchmark lifts (defaults: 120 commands a minute per host, 2,000 a
 * day per host, 10,000 a day, 600 calls a minute), so that a run of hundreds of calls measures
 * the calls and not the refusals.
 */
export const BENCH_LIMITS =
  'host_commands_per_minute: 1000000, host_commands_per_day: 100000000, commands_per_day: 100000000, calls_per_minute: 1000000';

/** The tests' allow-all policy, with the limits lifted. */
export const BENCH_POLICY = `limits: { ${BENCH_LIMITS} }\n${ALLOW_ALL_POLICY}`;

/**
 * Node's own options for every server a benchmark starts (`node OPTIONS dist/cli.js serve`), from
 * BENCH_SERVER_NODE_ARGS, split at spaces: to measure the server as another entry starts it, such
 * as the Docker image's ENTRYPOINT with its V8 flags.
 */
export const SERVER_NODE_ARGS: readonly string[] = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);

/**
 * Another node binary (BENCH_SERVER_NODE, a path) the start benchmark (its compile cache warm) and
 * the streaming one also run the server on: the Docker image's Node, as `.ci/image-node` prints it.
 */
export const SERVER_NODE: string | undefined = process.env.BENCH_SERVER_NODE || undefined;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export function p90(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.9))] as number;
}

/** The value at quantile q (0.99: p99) of xs, nearest rank. */
export function percentile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(s.length * q) - 1))] ?? NaN;
}

/** Runs `once` n times, one after the other, and returns each duration in ms. */
export async function time(n: number, once: () => unknown): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await once();
    out.push(performance.now() - t0);
  }
  return out;
}

/** One benchmark's section of the report: a title, a markdown table, and whether its bar was met. */
export interface Section {
  title: string;
  table: string[];
  bars: { bar: string; met: boolean; figure: string }[];
}
