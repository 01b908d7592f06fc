import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { globMatch, globsIntersect } from '../../src/glob.js';
import { decodeWord, quoteWord, wildForm } from '../../src/policy/words.js';

describe('policy globs', () => {
  it('treat * as any run of characters, slashes and spaces included, and ? as one character', () => {
    expect(globMatch('df -h*', 'df -h')).toBe(true);
    expect(globMatch('df -h*', 'df -h /var/lib')).toBe(true);
    expect(globMatch('cat /var/log/*', 'cat /var/log/nginx/error.log')).toBe(true);
    expect(globMatch('web?', 'web1')).toBe(true);
    expect(globMatch('web?', 'web12')).toBe(false);
    expect(globMatch('uptime', 'uptime -p')).toBe(false);
  });

  it('give braces and brackets no meaning', () => {
    expect(globMatch("awk '{print $1}'", "awk '{print $1}'")).toBe(true);
    expect(globMatch('ls [ab]', 'ls a')).toBe(false);
    expect(globMatch('ls {a,b}', 'ls a')).toBe(false);
  });

  it('stay fast on a pattern with many stars against a long hostile text', () => {
    const started = Date.now();
    expect(globMatch('*a*a*a*a*a*a*a*b', 'a'.repeat(16_000))).toBe(false);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('words', () => {
  it('are decoded as a shell removes quotes', () => {
    expect(decodeWord(`re''bo"o"t`)).toEqual({ ok: true, value: 'reboot', unquotedGlob: false, globs: [] });
    expect(decodeWord('\\reboot')).toMatchObject({ value: 'reboot' });
    expect(decodeWord('"a\\"b\\\\c\\d"')).toMatchObject({ value: 'a"b\\c\\d' });
    expect(decodeWord('*.log')).toMatchObject({ unquotedGlob: true });
    expect(decodeWord("'*.log'")).toMatchObject({ unquotedGlob: false });
    expect(decodeWord("a'*'b*c?")).toMatchObject({ value: 'a*b*c?', globs: [3, 5] });
  });

  it('intersect with a policy pattern as the names a shell wildcard may expand to', () => {
    const A = '\uE000';
    const O = '\uE001';
    expect(globsIntersect('*/etc/shadow*', `head /etc/shado${O}`)).toBe(true);
    expect(globsIntersect('*/../*', `tail /var/log/.${O}/x`)).toBe(true);
    expect(globsIntersect('*/etc/shadow*', `cat /e${A}/shadow`)).toBe(true);
    // A wildcard stays inside one path component and shows no space or quote.
    expect(globsIntersect('*/../*', `ls /var/log/${A}.log`)).toBe(false);
    expect(globsIntersect('* ../*', `head /e${A}/x`)).toBe(false);
    expect(globsIntersect('*/etc/shadow*', 'cat /etc/hosts')).toBe(false);
    expect(globsIntersect('rm *', `ls ${A}`)).toBe(false);
  });

  it('intersect exactly when some short text matches both, astral characters included', () => {
    const A = '\uE000';
    const O = '\uE001';
    const L = '\uE002';
    const alphabet = ['a', '/', '😀'];
    const texts = [''];
    for (let len = 1, last = ['']; len <= 6; len++) {
      last = last.flatMap((t) => alphabet.map((c) => t + c));
      texts.push(...last);
    }
    const inWild = (wild: string) => {
      const source = Array.from(wild, (c) => (c === A ? "[^/ ']*" : c === O ? "[^/ ']" : c === L ? '.*' : c.replace(/[/*?]/g, '\\$&')));
      return new RegExp(`^${source.join('')}$`, 'u');
    };
    const pattern = fc.array(fc.constantFrom('a', '/', '😀', '*', '?'), { maxLength: 3 }).map((cs) => cs.join(''));
    const wild = fc.array(fc.constantFrom('a', '/', '😀', A, O, L), { maxLength: 3 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(pattern, wild, (p, w) => {
        const re = inWild(w);
        expect(globsIntersect(p, w)).toBe(texts.some((t) => globMatch(p, t) && re.test(t)));
      }),
      { numRuns: 400 },
    );
  });

  it('turns unquoted wildcards into their wild form', () => {
    expect(wildForm('/etc/shado?', [10])).toBe('/etc/shado\uE001');
    expect(wildForm('a*[xy]z', [1, 2])).toBe('a\uE000\uE001z');
    expect(wildForm('a[b', [1])).toBe('a[b');
  });

  it('are refused when they hide an expansion or an operator', () => {
    for (const w of ['"$x"', '"`x`"', '$x', 'a;b', 'a|b', 'a{b,c}', "'open"]) expect(decodeWord(w).ok).toBe(false);
  });

  it('are written back one way', () => {
    expect(quoteWord('reboot')).toBe('reboot');
    expect(quoteWord('out of memory')).toBe("'out of memory'");
    expect(quoteWord("it's")).toBe(`'it'\\''s'`);
    expect(quoteWord('')).toBe("''");
  });
});
