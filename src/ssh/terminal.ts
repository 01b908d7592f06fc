/**
 * A command run with a terminal: the pseudo-terminal sshgate asks for, and its output turned into
 * plain text for a reader that is no terminal.
 *
 * Under a pty the command's stdout and stderr are one stream (both are the terminal), the
 * terminal's line discipline ends lines in `\r\n`, and programs that see a terminal write escape
 * sequences (colours, cursor movement, window titles). EscapeStripper removes the escape
 * sequences of ECMA-48 — CSI (`ESC [ … final`), the control strings OSC, DCS, SOS, PM and APC
 * (up to BEL or ST), `ESC` with intermediates (`ESC ( B`) and two-byte escapes (`ESC 7`, `ESC =`)
 * — and turns each `\r\n` into `\n`. A lone `\r` (a progress line drawn over itself), tabs,
 * backspaces and all other bytes stay. It works on bytes, one at a time, keeping its state between
 * chunks, so a sequence cut by a chunk boundary is removed all the same. It acts on the 7-bit
 * forms only: in UTF-8 output the bytes 0x80–0x9f are parts of characters, not C1 controls.
 */

/** The terminal: what `TERM` says, and a size for programs that lay out a screen. */
export const PTY = { term: 'xterm-256color', rows: 24, cols: 120 } as const;

const ESC = 0x1b;
const BEL = 0x07;
const CAN = 0x18;
const SUB = 0x1a;
const DEL = 0x7f;
const CR = 0x0d;
const LF = 0x0a;

/**
 * ground: text. escape: after ESC. intermediate: ESC and intermediate bytes (0x20–0x2f), before
 * the final byte. csi: ESC [ and parameter or intermediate bytes, before the final (0x40–0x7e).
 * string: inside a control string (OSC, DCS, SOS, PM, APC), which ends at BEL or ST (ESC \).
 * string-escape: ESC inside a control string, ST if a `\` follows, else a new sequence.
 */
type State = 'ground' | 'escape' | 'intermediate' | 'csi' | 'string' | 'string-escape';

/** After ESC, the bytes that open a control string: `]` OSC, `P` DCS, `X` SOS, `^` PM, `_` APC. */
const STRING_OPENERS = new Set([0x5d, 0x50, 0x58, 0x5e, 0x5f]);

export class EscapeStripper {
  private state: State = 'ground';
  /** A `\r` held back until the next byte of text shows whether it ends a `\r\n`. */
  private cr = false;

  /** The text of this chunk; a sequence or `\r` left unfinished waits for the next one. */
  push(chunk: Buffer): Buffer {
    // The output is never longer than the input plus the one `\r` held back from before.
    const out = Buffer.allocUnsafe(chunk.length + 1);
    let n = 0;
    const text = (b: number) => {
      if (this.cr) {
        this.cr = false;
        if (b !== LF) out[n++] = CR;
      }
      if (b === CR) this.cr = true;
      else out[n++] = b;
    };
    for (const b of chunk) {
      switch (this.state) {
        case 'ground':
          if (b === ESC) this.state = 'escape';
          else text(b);
          break;
        case 'string':
          if (b === ESC) this.state = 'string-escape';
          else if (b === BEL || b === CAN || b === SUB) this.state = 'ground';
          break;
        case 'string-escape':
          if (b === 0x5c) this.state = 'ground';
          else this.afterEscape(b, text);
          break;
        case 'escape':
          this.afterEscape(b, text);
          break;
        case 'intermediate':
          this.inSequence(b, 0x20, 0x2f, 0x30, text);
          break;
        case 'csi':
          this.inSequence(b, 0x20, 0x3f, 0x40, text);
          break;
      }
    }
    return out.subarray(0, n);
  }

  /** What is held back at the end of the stream: a `\r`; an unfinished sequence is dropped. */
  end(): Buffer {
    const rest = this.cr ? Buffer.from([CR]) : Buffer.alloc(0);
    this.cr = false;
    this.state = 'ground';
    return rest;
  }

  private afterEscape(b: number, text: (b: number) => void): void {
    if (b === 0x5b) this.state = 'csi';
    else if (STRING_OPENERS.has(b)) this.state = 'string';
    else if (b >= 0x20 && b <= 0x2f) this.state = 'intermediate';
    else if (b >= 0x30 && b <= 0x7e) this.state = 'ground';
    else this.interrupted(b, text);
  }

  /** Inside a sequence: bytes in [from, to] continue it, [final, 0x7e] ends it. */
  private inSequence(b: number, from: number, to: number, final: number, text: (b: number) => void): void {
    if (b >= from && b <= to) return;
    if (b >= final && b <= 0x7e) this.state = 'ground';
    else this.interrupted(b, text);
  }

  /**
   * A byte that cannot continue the sequence: ESC starts a new one, CAN and SUB cancel it, DEL is
   * ignored, and any other byte (a newline, a UTF-8 byte) ends it and is text.
   */
  private interrupted(b: number, text: (b: number) => void): void {
    if (b === ESC) this.state = 'escape';
    else if (b === CAN || b === SUB) this.state = 'ground';
    else if (b !== DEL) {
      this.state = 'ground';
      text(b);
    }
  }
}
