/**
 * For the tests of sshgate's fixed host commands (the host hash, the elevated scripts): a PATH
 * directory holding only the tools a test names, so that which tool a command runs, and what it
 * does when one is missing or broken, is the test's choice, with the real tools where it wants them.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** This machine's path of a tool, as sh finds it. */
export function which(tool: string): string {
  return execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
}

/**
 * Makes `dir/name` with each of `tools`: a link to the path given, or a script of the text given
 * (text starting with `#!`). Returns the directory.
 */
export function toolDir(dir: string, name: string, tools: Record<string, string>): string {
  const d = join(dir, name);
  mkdirSync(d);
  for (const [tool, target] of Object.entries(tools)) {
    if (target.startsWith('#!')) {
      writeFileSync(join(d, tool), target);
      chmodSync(join(d, tool), 0o755);
    } else symlinkSync(target, join(d, tool));
  }
  return d;
}
