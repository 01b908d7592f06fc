/** What every command needs: where the files are, how to print, and the loaded configuration. */
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadInventory, type Inventory } from '../config/load-inventory.js';
import { loadPolicy, type PolicySet } from '../config/load-policy.js';
import { ConfigError, type FileIssue } from '../errors.js';
import { createPolicyEngine, type PolicyEngine } from '../policy/decide.js';
import { createShellParser, type ShellParser } from '../policy/parse.js';

export interface Paths {
  configDir: string;
  policyPath: string;
  keysDir: string;
  secretsDir: string;
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export interface Loaded {
  inventory: Inventory;
  policy: PolicySet;
  engine: PolicyEngine;
}

let parser: Promise<ShellParser> | undefined;
/** The shell grammar is loaded once per process. */
export function shellParser(): Promise<ShellParser> {
  parser ??= createShellParser();
  return parser;
}

/** Loads the inventory and the policy; a ConfigError lists the problems of both at once. */
export async function loadAll(paths: Paths): Promise<Loaded> {
  const issues: FileIssue[] = [];
  const attempt = <T>(load: () => T): T | undefined => {
    try {
      return load();
    } catch (err) {
      if (err instanceof ConfigError) issues.push(...err.issues);
      else throw err;
      return undefined;
    }
  };
  const inventory = attempt(() => loadInventory(paths));
  const policy = attempt(() => loadPolicy(paths.policyPath));
  if (!inventory || !policy) throw new ConfigError(issues);
  return { inventory, policy, engine: createPolicyEngine(policy, await shellParser()) };
}

export async function engineFor(policyPath: string): Promise<PolicyEngine> {
  return createPolicyEngine(loadPolicy(policyPath), await shellParser());
}

/** Prints a ConfigError's issues, one per line, as `file:line:col: message`. */
export function reportConfigError(io: Io, err: unknown): boolean {
  if (!(err instanceof ConfigError)) return false;
  io.err(`${err.message}\n`);
  return true;
}

/** The tests folder that goes with a policy: `<dir>/tests`, or `tests/` beside a single file. */
export function testsDirOf(policyPath: string): string | undefined {
  const base = existsSync(policyPath) && statSync(policyPath).isDirectory() ? policyPath : dirname(policyPath);
  const dir = join(base, 'tests');
  return existsSync(dir) && statSync(dir).isDirectory() ? dir : undefined;
}
