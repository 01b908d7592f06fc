/** The policy engine under test, loaded the way sshgate loads it, and asked as a host of each shell would ask it. */
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shellParser } from '../../src/commands/context.js';
import { loadPolicy } from '../../src/config/load-policy.js';
import { createPolicyEngine, type PolicyEngine } from '../../src/policy/decide.js';

export type Shell = 'bash' | 'sh';
export const SHELLS: readonly Shell[] = ['bash', 'sh'];

export interface FuzzPolicy {
  /** The file's name without .yml: `named`, `star`, `ask`. */
  name: string;
  path: string;
  engine: PolicyEngine;
}

/** The policies shipped beside the fuzzer (test/fuzz/policies/), also when run from dist-fuzz/. */
export function defaultPolicyPaths(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const source = here.includes(`${join('dist-fuzz', 'test', 'fuzz')}`) ? join(here, '..', '..', '..', 'test', 'fuzz') : here;
  return ['named', 'star', 'ask'].map((n) => join(source, 'policies', `${n}.yml`));
}

export async function loadFuzzPolicy(path: string): Promise<FuzzPolicy> {
  return { name: basename(path).replace(/\.ya?ml$/, ''), path, engine: createPolicyEngine(loadPolicy(path), await shellParser()) };
}

/** A production-tagged web host whose commands run under `shell`. */
export function hostFor(shell: Shell) {
  return { alias: 'web1', tags: ['web', 'prod'], shell };
}

export function decideFor(policy: FuzzPolicy, shell: Shell, line: string) {
  return policy.engine.decide(hostFor(shell), line);
}
