/** What every command needs: where the files are, how to print, and the loaded configuration. */
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from '../errors.js';

export { engineFor, loadAll, shellParser, type Loaded, type Paths } from '../policy/load.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /**
   * Asks a person and resolves with the line they typed ("q" when they end the input or press Ctrl-C); present only when
   * stdin is a terminal. A command that needs a confirmation and finds none does not go ahead.
   */
  ask?(question: string): Promise<string>;
}

/** Prints a ConfigError's issues, one per line, as `file:line:col: message`. */
export function reportConfigError(io: Io, err: unknown): boolean {
  if (!(err instanceof ConfigError)) return false;
  io.err(`${err.message}\n`);
  return true;
}

/** Prints an error as `sshgate: message`, with its hint on the next line. */
export function reportError(io: Io, e: { message: string; hint?: string }): void {
  io.err(`sshgate: ${e.message}\n${e.hint ? `  hint: ${e.hint}\n` : ''}`);
}

/** The tests folder that goes with a policy: `<dir>/tests`, or `tests/` beside a single file. */
export function testsDirOf(policyPath: string): string | undefined {
  const base = existsSync(policyPath) && statSync(policyPath).isDirectory() ? policyPath : dirname(policyPath);
  const dir = join(base, 'tests');
  return existsSync(dir) && statSync(dir).isDirectory() ? dir : undefined;
}
