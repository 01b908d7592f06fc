/**
 * What no reviewed rule could mean, checked before any parsing: an empty command, one over the
 * size limit, one with a NUL byte. One list for the tools (an invalid_input error with the hint)
 * and for the engine (a denial with the reason), so the two never drift apart.
 */
import { DEFAULTS } from '../defaults.js';

export interface InputProblem {
  reason: string;
  hint: string;
}

export function commandInputProblem(command: string): InputProblem | undefined {
  if (command.trim() === '') return { reason: 'the command is empty', hint: 'give the command line to run, e.g. "uptime"' };
  const bytes = Buffer.byteLength(command, 'utf8');
  if (bytes > DEFAULTS.maxCommandBytes) {
    return {
      reason: `the command is ${bytes} bytes long; the limit is ${DEFAULTS.maxCommandBytes}`,
      hint: 'copy large inputs to the host another way and run a short command over them',
    };
  }
  if (command.includes('\0'))
    return { reason: 'the command contains a NUL byte', hint: 'a shell command line cannot contain NUL; remove it' };
  return undefined;
}
