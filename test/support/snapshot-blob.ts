/**
 * The Docker image's startup snapshot (src/snapshot.ts), built for a given node as the Dockerfile
 * builds it: with the ENTRYPOINT's V8 flags, from dist/snapshot.cjs (npm run build:snapshot; the
 * test setup and `npm run bench` run it). test/e2e/container.test.ts runs the Dockerfile's own
 * command instead.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { WASM_FLAGS } from '../../src/memory.js';

/** Builds `dir`/sshgate.blob for `node`; returns node's options that start from it, as the ENTRYPOINT gives them (before `--`). */
export function buildImageBlob(node: string, dir: string): string[] {
  // From the repository's root, where the tests and the benchmarks run (as serveArgs finds dist/cli.js).
  const script = resolve('dist/snapshot.cjs');
  if (!existsSync(script)) throw new Error(`${script} is missing: npm run build:snapshot makes it`);
  const blob = join(dir, 'sshgate.blob');
  const built = spawnSync(node, [...WASM_FLAGS, '--snapshot-blob', blob, '--build-snapshot', script], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '' },
  });
  if (built.status !== 0) throw new Error(`node --build-snapshot failed (${built.status}):\n${built.stderr}`);
  return [...WASM_FLAGS, '--snapshot-blob', blob];
}
