import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EscapeStripper } from '../../../src/ssh/terminal.js';

/** The stripper's whole output for `chunks` fed one by one, as text. */
function strip(...chunks: (string | Buffer)[]): string {
  const s = new EscapeStripper();
  const out = chunks.map((c) => s.push(Buffer.isBuffer(c) ? c : Buffer.from(c, 'latin1')));
  return Buffer.concat([...out, s.end()]).toString('latin1');
}

describe('EscapeStripper', () => {
  it('removes colours and turns the terminal line ends into \\n', () => {
    expect(strip('\x1b[31mred\x1b[0m\r\n')).toBe('red\n');
    expect(strip('\x1b[1;38;5;208mbold orange\x1b[m plain\r\nnext\r\n')).toBe('bold orange plain\nnext\n');
  });

  it('removes cursor movement, private modes and sequences with intermediate bytes', () => {
    expect(strip('\x1b[?25l\x1b[H\x1b[2J\x1b[3;1Htop\x1b[K\x1b[?25h')).toBe('top');
    expect(strip('a\x1b[2 qb\x1b[!pc')).toBe('abc');
  });

  it('removes window titles and other control strings, ended by BEL or by ST', () => {
    expect(strip('\x1b]0;user@host: ~\x07prompt')).toBe('prompt');
    expect(strip('\x1b]8;;http://x.example/\x1b\\link\x1b]8;;\x1b\\')).toBe('link');
    expect(strip('a\x1bPq#0;2;0;0;0\x1b\\b\x1b_apc\x1b\\c\x1b^pm\x07d\x1bXsos\x1b\\e')).toBe('abcde');
  });

  it('removes two-byte escapes and character set designations', () => {
    expect(strip('\x1b7saved\x1b8\x1b=\x1b>\x1b(B\x1b)0\x1bMx\x1bc')).toBe('savedx');
  });

  it('keeps text: UTF-8, tabs, backspaces and a lone \\r', () => {
    const text = 'é ✓ 🙂\ta\bb 50%\r100%\n';
    expect(strip(Buffer.from(text))).toBe(Buffer.from(text).toString('latin1'));
  });

  it('turns each \\r\\n into \\n, also when a sequence stands between them', () => {
    expect(strip('a\r', '\nb\r\r\nc\r\x1b[0m\n')).toBe('a\nb\r\nc\n');
  });

  it('ends a broken sequence at a byte that cannot continue it, and keeps that byte', () => {
    expect(strip('\x1b[12\nnext')).toBe('\nnext');
    expect(strip('\x1b[1\x1b[31mred')).toBe('red');
    expect(strip('\x1b[12\x18x')).toBe('x');
    expect(strip(Buffer.from('\x1b[1é', 'utf8'))).toBe(Buffer.from('é').toString('latin1'));
  });

  it('drops a sequence still unfinished at the end, and gives back a held \\r', () => {
    expect(strip('done\x1b[3')).toBe('done');
    expect(strip('done\x1b]0;tit')).toBe('done');
    expect(strip('50%\r')).toBe('50%\r');
  });

  it('holds back nothing but a \\r and an unfinished sequence', () => {
    const s = new EscapeStripper();
    expect(s.push(Buffer.from('abc\x1b[3')).toString()).toBe('abc');
    expect(s.push(Buffer.from('1mred\r')).toString()).toBe('red');
    expect(s.push(Buffer.from('\n')).toString()).toBe('\n');
  });

  /** Any bytes, mixed with the pieces sequences are made of: openers, parameters, finals, string ends, line ends, UTF-8. */
  const piece = fc.constantFrom(
    '\x1b',
    '\x1b[',
    '\x1b]',
    '\x1bP',
    '\x1b_',
    '\x1b\\',
    '\x1b(',
    '\x1b ',
    '\x07',
    '\x18',
    '\x7f',
    '\r',
    '\n',
    '\r\n',
    '1;31',
    'm',
    '?25h',
    'é',
    'text',
  );
  const terminalBytes = fc
    .array(
      fc.oneof(
        piece.map((p) => Buffer.from(p)),
        fc.uint8Array({ minLength: 1, maxLength: 3 }).map((b) => Buffer.from(b)),
      ),
      { maxLength: 80 },
    )
    .map((parts) => Buffer.concat(parts));

  it('strips output cut at any points exactly as the output whole', () => {
    fc.assert(
      fc.property(terminalBytes, fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
        const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const pieces = [...at, bytes.length].map((end, i) => bytes.subarray(i === 0 ? 0 : (at[i - 1] as number), end));
        expect(strip(...pieces)).toBe(strip(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('lets no ESC byte through, and never makes the output longer', () => {
    fc.assert(
      fc.property(terminalBytes, (bytes) => {
        const out = Buffer.from(strip(bytes), 'latin1');
        expect(out.includes(0x1b)).toBe(false);
        expect(out.length).toBeLessThanOrEqual(bytes.length);
      }),
      { numRuns: 2000 },
    );
  });

  it('leaves bytes without ESC and \\r as they are', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (raw) => {
        const bytes = Buffer.from(raw.filter((b) => b !== 0x1b && b !== 0x0d));
        expect(strip(bytes)).toBe(bytes.toString('latin1'));
      }),
    );
  });
});
