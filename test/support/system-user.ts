/**
 * Local users the tests and the fuzzer log in or run as, added once: test files run side by side
 * (vitest.config.ts), as do fuzzer runs, so another may add the same user first.
 */
import { execFileSync } from 'node:child_process';

/** The user's passwd line, or '' when there is no such user. */
export function passwdEntry(user: string): string {
  try {
    return execFileSync('getent', ['passwd', user], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

/** The user's passwd line, the user added first with `useradd ARGS USER` when missing. */
export function addUserOnce(user: string, useraddArgs: readonly string[]): string {
  const entry = passwdEntry(user);
  if (entry !== '') return entry;
  try {
    execFileSync('useradd', [...useraddArgs, user], { stdio: 'ignore' });
  } catch (err) {
    // Only a user still missing is a failure: another process may have added it just now.
    if (passwdEntry(user) === '') throw err;
  }
  return passwdEntry(user);
}
