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
let loadedParser: ShellParser | undefined;
/** The shell grammar is loaded once per process. */
export function shellParser(): Promise<ShellParser> {
  parser ??= createShellParser().then((p) => (loadedParser = p));
  return parser;
}

/**
 * What an engine parses with: the grammar shellParser() loads. An engine may be built before it
 * is loaded (a server answers its client first); deciding before that is a bug of the caller.
 */
const grammar: ShellParser = {
  parse: (command, dialect) => {
    if (!loadedParser) throw new Error('a command was decided before shellParser() resolved');
    return loadedParser.parse(command, dialect);
  },
};

export interface LoadOptions {
  /** 'later': build the engine now and let the caller await shellParser() before deciding. */
  grammar?: 'now' | 'later';
}

/** Loads the inventory and the policy; a ConfigError lists the problems of both at once. */
export async function loadAll(paths: Paths, options: LoadOptions = {}): Promise<Loaded> {
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
  if (options.grammar !== 'later') await shellParser();
  return { inventory, policy, engine: createPolicyEngine(policy, grammar) };
}

export async function engineFor(policyPath: string): Promise<PolicyEngine> {
  return createPolicyEngine(loadPolicy(policyPath), await shellParser());
}
