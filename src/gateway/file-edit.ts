/**
 * ssh_edit_file's change: exact-string replacement in a text file, with the number of occurrences
 * stated by the caller, and the unified diff it makes. The caller states the count so that an old
 * string that also occurs somewhere it did not look is refused instead of silently changed there.
 */
import { createTwoFilesPatch } from 'diff';
import { SshgateError } from '../errors.js';

/** A diff longer than this is cut (at a line end) in the result; the hashes still say it all. */
export const MAX_DIFF_CHARS = 64 * 1024;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The file as text, or an error saying why it is not one an edit can change. */
export function textOf(data: Buffer, path: string): string {
  let text: string;
  try {
    text = strictUtf8.decode(data);
  } catch {
    text = '\0';
  }
  if (text.includes('\0')) {
    throw new SshgateError(
      'invalid_input',
      `${path} is not a UTF-8 text file, so it cannot be edited by text replacement`,
      'read it with ssh_read_file (base64) and write it whole with ssh_write_file',
    );
  }
  return text;
}

/** Non-overlapping occurrences of `needle`, left to right, as String.replaceAll counts them. */
export function countOccurrences(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** `text` with every occurrence of `old` replaced, refused unless there are exactly `expected`. */
export function replaceExactly(text: string, old: string, replacement: string, expected: number, path: string): string {
  if (old === replacement) {
    throw new SshgateError(
      'invalid_input',
      'old and new are the same text: the edit would change nothing',
      'give the text to put in place of old as new',
    );
  }
  const found = countOccurrences(text, old);
  if (found !== expected) {
    throw new SshgateError(
      'invalid_input',
      found === 0
        ? `old does not occur in ${path}`
        : `old occurs ${found} time${found === 1 ? '' : 's'} in ${path}, not ${expected}: nothing was changed`,
      found === 0
        ? 'read the file again (ssh_read_file): the text must match exactly, whitespace and line ends included'
        : 'give more surrounding text in old so that it occurs only where you mean, or set occurrences to the count to replace them all',
    );
  }
  // A function replacement: `$&` and `$1` in the new text stay literal.
  return text.split(old).join(replacement);
}

/** A diff that takes longer than this to compute is not shown (a huge rewrite); the hashes still say it all. */
const DIFF_TIMEOUT_MS = 1000;

/** The unified diff from `before` to `after`, cut to MAX_DIFF_CHARS at a line end. */
export function unifiedDiff(path: string, before: string, after: string): { diff: string; truncated: boolean } {
  const whole = createTwoFilesPatch(path, path, before, after, undefined, undefined, { context: 3, timeout: DIFF_TIMEOUT_MS });
  if (whole === undefined) return { diff: '', truncated: true };
  // The patch opens with an Index: line and a line of '=' that say nothing to a reader.
  const start = whole.indexOf('--- ');
  const diff = start > 0 ? whole.slice(start) : whole;
  if (diff.length <= MAX_DIFF_CHARS) return { diff, truncated: false };
  const cut = diff.lastIndexOf('\n', MAX_DIFF_CHARS);
  return { diff: diff.slice(0, cut + 1), truncated: true };
}
