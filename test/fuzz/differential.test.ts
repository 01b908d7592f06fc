/**
 * The differential fuzzer as a test: a seeded sample of generated lines through the real engine,
 * and every line it allows through the real bash and dash in the sandbox. It fails naming every
 * line the engine allowed that created a file or printed the SECRET fixture. Needs root, unshare
 * and dash (skipped otherwise, with the reason in its name); `npm run fuzz` runs the same code over
 * as many lines as asked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPolicyPaths, loadFuzzPolicy, SHELLS, type FuzzPolicy } from './engine.js';
import { fuzz, type Hit } from './fuzz.js';
import { executorFor, sandboxUnavailable, startPool, type Executor, type Pool } from './sandbox.js';

const SEED = 20_260_101;
const LINES = 12_000;
const unavailable = sandboxUnavailable();
const effect = (h: Hit) =>
  [h.created.length > 0 ? `created ${h.created.join(', ')}` : '', h.leaked ? 'printed the secret' : ''].filter(Boolean).join(' and ');

describe.skipIf(unavailable !== undefined)(`differential fuzz${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let pool: Pool;
  let executor: Executor;
  let policies: FuzzPolicy[];
  beforeAll(async () => {
    policies = await Promise.all(defaultPolicyPaths().map(loadFuzzPolicy));
    executor = await executorFor('auto');
    pool = await startPool({ size: 4, timeoutMs: 2000 });
  });
  afterAll(async () => {
    await pool?.close();
  });

  it(`allows no line that writes a file or prints the secret, in ${LINES} lines of seed ${SEED}, under bash and sh`, async () => {
    const summary = await fuzz({ lines: LINES, seed: SEED, shells: SHELLS, policies, pool, executor });
    expect(summary.executed, 'the sample executed nothing: the generator or the policies changed').toBeGreaterThan(LINES / 20);
    const hits = [...summary.hitList]
      .sort((a, b) => a.index - b.index || a.shell.localeCompare(b.shell))
      .map((h) => `  ${h.shell.padEnd(4)} ${h.seed}:${h.index} ${h.class}: ${JSON.stringify(h.line)} ${effect(h)}`);
    expect(hits.length, `lines the engine allowed wrote a file or printed the secret (exec ${executor.mode}):\n${hits.join('\n')}\n`).toBe(
      0,
    );
  }, 120_000);
});
