/** What the suites share about sshgate's errors. */
import { expect } from 'vitest';
import { SshgateError } from '../../src/errors.js';

/** The SshgateError `fn` throws; fails the test if it throws something else or nothing. */
export function failure(fn: () => unknown): SshgateError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SshgateError);
    return err as SshgateError;
  }
  throw new Error('expected an error');
}
