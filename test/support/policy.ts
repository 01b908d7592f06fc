/** Builds real policy engines and configs from YAML text written to a temporary folder. */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { shellParser, type Io } from '../../src/commands/context.js';
import { loadPolicy } from '../../src/config/load-policy.js';
import { createPolicyEngine, type PolicyEngine } from '../../src/policy/decide.js';

export function tempDir(prefix = 'sshgate-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes `files` (relative path → content) under a new temporary folder and returns it. */
export function writeTree(files: Record<string, string | Buffer>): string {
  const root = tempDir();
  for (const [rel, content] of Object.entries(files)) {
    const full = join(root, rel);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
  return root;
}

export async function engineFromYaml(yaml: string): Promise<PolicyEngine> {
  const root = writeTree({ 'policy.yml': yaml });
  return createPolicyEngine(loadPolicy(join(root, 'policy.yml')), await shellParser());
}

export function captureIo(): Io & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    stdout: () => out,
    stderr: () => err,
  };
}

export const web1 = { alias: 'web1', tags: ['web', 'prod'] };
export const db1 = { alias: 'db1', tags: ['db', 'prod'] };
