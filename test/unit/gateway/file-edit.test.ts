/** ssh_edit_file's replacement and diff, tried with the inputs that break naive ones. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countOccurrences, MAX_DIFF_CHARS, replaceExactly, textOf, unifiedDiff } from '../../../src/gateway/file-edit.js';
import { SshgateError } from '../../../src/errors.js';

function refusal(f: () => unknown): SshgateError {
  try {
    f();
  } catch (err) {
    if (err instanceof SshgateError) return err;
    throw err;
  }
  throw new Error('not refused');
}

describe('replaceExactly', () => {
  it('replaces the one occurrence stated', () => {
    expect(replaceExactly('listen 80;\nserver_name a;\n', 'listen 80;', 'listen 8080;', 1, '/x')).toBe('listen 8080;\nserver_name a;\n');
  });

  it('refuses when the count differs, naming the count found, and changes nothing', () => {
    const e = refusal(() => replaceExactly('a a a', 'a', 'b', 1, '/etc/x'));
    expect(e.code).toBe('invalid_input');
    expect(e.message).toBe('old occurs 3 times in /etc/x, not 1: nothing was changed');
    expect(e.hint).toContain('occurrences');
  });

  it('replaces all when the count is stated', () => {
    expect(replaceExactly('a a a', 'a', 'b', 3, '/x')).toBe('b b b');
  });

  it('refuses text that does not occur, and an edit that changes nothing', () => {
    expect(refusal(() => replaceExactly('abc', 'x', 'y', 1, '/x')).message).toBe('old does not occur in /x');
    expect(refusal(() => replaceExactly('abc', 'b', 'b', 1, '/x')).message).toContain('the same text');
  });

  it('keeps $& and $1 in the new text literal', () => {
    expect(replaceExactly('price', 'price', '$& $1 $$', 1, '/x')).toBe('$& $1 $$');
  });

  it('counts overlapping candidates as String.replaceAll does (aaa holds one "aa")', () => {
    expect(countOccurrences('aaa', 'aa')).toBe(1);
    expect(replaceExactly('aaa', 'aa', 'b', 1, '/x')).toBe('ba');
  });

  it('agrees with String.replaceAll for any text', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', 'b', '\n', 'é') }),
        fc.string({ minLength: 1, maxLength: 3, unit: fc.constantFrom('a', 'b', '\n') }),
        fc.string(),
        (text, old, rep) => {
          fc.pre(old !== rep);
          const n = countOccurrences(text, old);
          fc.pre(n > 0);
          expect(replaceExactly(text, old, rep, n, '/x')).toBe(text.replaceAll(old, () => rep));
        },
      ),
    );
  });
});

describe('textOf', () => {
  it('refuses invalid UTF-8 and NUL bytes: binary files are written whole', () => {
    expect(refusal(() => textOf(Buffer.from([0xff, 0xfe]), '/bin/x')).hint).toContain('base64');
    expect(refusal(() => textOf(Buffer.from('a\0b'), '/x')).code).toBe('invalid_input');
    expect(textOf(Buffer.from('wörld ✓\n'), '/x')).toBe('wörld ✓\n');
  });
});

describe('unifiedDiff', () => {
  it('shows the change with three lines of context and the file name', () => {
    const before = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].join('\n') + '\n';
    const after = before.replace('e\n', 'E\n');
    const { diff, truncated } = unifiedDiff('/etc/app.conf', before, after);
    expect(truncated).toBe(false);
    expect(diff).toBe('--- /etc/app.conf\n+++ /etc/app.conf\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n');
  });

  it('cuts a long diff at a line end', () => {
    const before = 'head\n';
    const after = before + Array.from({ length: 20_000 }, (_, i) => `line ${i}\n`).join('');
    const { diff, truncated } = unifiedDiff('/x', before, after);
    expect(truncated).toBe(true);
    expect(diff.length).toBeLessThanOrEqual(MAX_DIFF_CHARS);
    expect(diff.endsWith('\n')).toBe(true);
    expect(diff.startsWith('--- /x\n+++ /x\n@@ -1,1 +1,20001 @@\n head\n+line 0\n')).toBe(true);
  });

  it('gives up on a diff too costly to compute, saying so', () => {
    const before = Array.from({ length: 20_000 }, (_, i) => `line ${i}`).join('\n');
    expect(unifiedDiff('/x', before, before.replaceAll('line', 'LINE'))).toEqual({ diff: '', truncated: true });
  });
});
