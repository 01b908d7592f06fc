/** Loads the inventory and the policy together and builds the engine over them. */
import { loadInventory, type Inventory } from '../config/load-inventory.js';
import { loadPolicy, type PolicySet } from '../config/load-policy.js';
import { ConfigError, type FileIssue } from '../errors.js';
import { createPolicyEngine, type PolicyEngine } from './decide.js';
import { createShellParser, type ShellParser } from './parse.js';

export interface Paths {
  configDir: string;
  policyPath: string;
  keysDir: string;
  secretsDir: string;
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
