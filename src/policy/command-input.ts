/**
 * What no reviewed rule could mean, checked before any parsing: an empty command, one over the
 * size limit, one with a NUL byte or another control character, a backslash-newline line
 * continuation, a non-ASCII character glued to a byte a multibyte locale could swallow. Each is
 * about the text of the command, whatever the policy says. One list for the tools (an
 * invalid_input error with the hint, at the tool's edge) and for the engine (parse.ts: a denial
 * with the reason, for `plan`, policy tests and the fuzzer, which call no tool), so the two never
 * drift apart. What parse.ts still refuses on its own (too many words, a lexer and grammar that
 * disagree, a construct it does not model) is about how a shell reads the command, and is a
 * policy denial.
 */
import { DEFAULTS } from '../defaults.js';

export interface InputProblem {
  reason: string;
  hint: string;
}

/** A control character other than tab and newline: never part of a command a person typed. */
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
const CONTINUATION_RE = /\\\r?\n/;
const GLUED_TO_NON_ASCII = /[\u0080-\uffff]([\\`|{}[\]])/;

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
  const control = CONTROL_RE.exec(command);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).padStart(2, '0');
    return {
      reason: `the command contains a control character (0x${code}) at offset ${control.index}`,
      hint: "remove it; a command that needs one can make it, e.g. printf '\\033'",
    };
  }
  // A shell joins the lines around a backslash-newline into one word; the grammar does not
  // always agree, so a line continuation is refused rather than guessed at.
  const continuation = CONTINUATION_RE.exec(command);
  if (continuation) {
    return {
      reason: `the command continues a line with a backslash at offset ${continuation.index}; write it on one line`,
      hint: 'drop the backslash before the line break, or join the lines',
    };
  }
  // In a legacy multibyte locale (Big5, GBK, Shift_JIS) a byte of 0x40-0x7e after a non-ASCII
  // byte can be the second half of one character: the shell would not see that \ or ` or | at all.
  const glued = GLUED_TO_NON_ASCII.exec(command);
  if (glued) {
    return {
      reason: `a non-ASCII character directly followed by "${glued[1]}" at offset ${glued.index + glued[0].length - 1}: a shell in a Big5, GBK or Shift_JIS locale reads them as one character; put a space or a quote between them`,
      hint: 'put a space or a quote between the non-ASCII character and what follows it',
    };
  }
  return undefined;
}
