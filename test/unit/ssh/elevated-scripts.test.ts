/**
 * The parsers of what the elevated file scripts print, fed by hand: each takes exactly the
 * script's format and refuses anything else (a script printed it, so a line out of shape means a
 * host without the tools the scripts need, or output that is not the script's). And the read
 * stream, whose data and trailer may arrive cut at any byte.
 */
import { describe, expect, it } from 'vitest';
import {
  afterFrame,
  firstLine,
  parseHash,
  parseList,
  parseRealpath,
  parseStat,
  parseWrite,
  plainStat,
  ReadStream,
  scriptCommand,
  SCRIPTS,
  type ScriptName,
} from '../../../src/ssh/elevated-scripts.js';

const FRAME = 'sshgate-frame-0123456789abcdef';
const STAT_F = 'f 5 644 1000 1000 1700000000.25 42 2049';
const SHA = 'ab'.repeat(32);

/** A read's whole stdout: noise, the frame, the header, the data, the frame again and the trailer. */
function readOutput(data: Buffer, header: string, trailer: string, noise = ''): Buffer {
  return Buffer.concat([Buffer.from(`${noise}${FRAME}\n${header}\n`), data, Buffer.from(`${FRAME}\n${trailer}\n`)]);
}

describe('parseStat', () => {
  it('reads every type letter, and calls one it does not know unknown', () => {
    const types = { f: 'file', d: 'directory', l: 'symlink', p: 'fifo', s: 'socket', c: 'char_device', b: 'block_device', D: 'unknown' };
    for (const [letter, type] of Object.entries(types)) expect(parseStat(`${letter} 0 755 0 0 1 1 1`).type, letter).toBe(type);
  });

  it('keeps the permission bits only, whole seconds, and what tells versions apart', () => {
    const s = parseStat('f 5 104755 1000 1001 1700000000.999 42 2049');
    expect(s).toEqual({
      type: 'file',
      size: 5,
      mode: 0o4755,
      uid: 1000,
      gid: 1001,
      mtime: 1700000000,
      version: '5 1700000000.999 42 2049',
    });
    expect(plainStat(s)).toEqual({ type: 'file', size: 5, mode: 0o4755, uid: 1000, gid: 1001, mtime: 1700000000 });
    // The same file with another inode, or another fraction of a second, is another version.
    expect(parseStat('f 5 644 0 0 1700000000.5 43 2049').version).not.toBe(parseStat('f 5 644 0 0 1700000000.5 42 2049').version);
    expect(parseStat('f 5 644 0 0 1700000000.6 42 2049').mtime).toBe(parseStat('f 5 644 0 0 1700000000.5 42 2049').mtime);
  });

  it('refuses a line out of shape, showing at most 120 characters of it', () => {
    for (const line of [
      '',
      `${STAT_F} `,
      ` ${STAT_F}`,
      'ff 5 644 0 0 1 1 1',
      'f -5 644 0 0 1 1 1',
      'f 5 1234567 0 0 1 1 1',
      'f 5 644 0 0 1. 1 1',
    ])
      expect(() => parseStat(line), JSON.stringify(line)).toThrow(/could not read a stat line/);
    try {
      parseStat('x'.repeat(500));
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).toContain(`"${'x'.repeat(120)}"`);
      expect((err as Error).message).not.toContain('x'.repeat(121));
      expect(err).toMatchObject({ code: 'internal', hint: expect.stringMatching(/GNU coreutils and findutils/) });
    }
  });
});

describe('afterFrame', () => {
  it('gives what follows the first frame line, whatever a login script printed before', () => {
    expect(afterFrame(Buffer.from(`${FRAME}\nout`), FRAME).toString()).toBe('out');
    expect(afterFrame(Buffer.from(`motd\nwelcome\n${FRAME}\n${FRAME}\nout`), FRAME).toString()).toBe(`${FRAME}\nout`);
    expect(afterFrame(Buffer.from(`${FRAME}\n`), FRAME).length).toBe(0);
  });

  it('refuses output without the frame on a line of its own', () => {
    expect(() => afterFrame(Buffer.from('no frame here'), FRAME)).toThrow(/could not read the frame/);
    expect(() => afterFrame(Buffer.from(`${FRAME}out`), FRAME)).toThrow(/the frame/);
    expect(() => afterFrame(Buffer.from(FRAME.slice(0, -1) + '\n'), FRAME)).toThrow(/the frame/);
  });
});

describe('parseRealpath', () => {
  it('gives the NUL-terminated path, a newline in it kept', () => {
    expect(parseRealpath(Buffer.from('/srv/app\0'))).toBe('/srv/app');
    expect(parseRealpath(Buffer.from('/srv/new\nline\0'))).toBe('/srv/new\nline');
    expect(parseRealpath(Buffer.from('/srv/ünï\0'))).toBe('/srv/ünï');
  });

  it('refuses nothing, an empty path, a missing or early NUL', () => {
    for (const out of ['', '\0', '/srv/app', '/srv\0app\0', '/srv/app\0\n'])
      expect(() => parseRealpath(Buffer.from(out)), JSON.stringify(out)).toThrow(/could not read a path/);
  });
});

describe('parseList', () => {
  it('gives no entries for an empty directory', () => {
    expect(parseList(Buffer.alloc(0))).toEqual([]);
  });

  it('sorts the entries by name', () => {
    const names = ['b', 'a', 'B', 'a b', 'ä', '.hidden', 'a.txt'];
    const out = Buffer.from(names.map((n) => `${n}\0${STAT_F}\0`).join(''));
    expect(parseList(out).map((e) => e.name)).toEqual(['.hidden', 'B', 'a', 'a b', 'a.txt', 'b', 'ä']);
    expect(parseList(out)[0]?.stat).toEqual({ type: 'file', size: 5, mode: 0o644, uid: 1000, gid: 1000, mtime: 1700000000 });
  });

  it('keeps two entries of the same name, both', () => {
    const out = Buffer.from(`x\0${STAT_F}\0x\0d 0 755 0 0 1 1 1\0a\0${STAT_F}\0`);
    expect(parseList(out).map((e) => [e.name, e.stat.type])).toEqual([
      ['a', 'file'],
      ['x', 'file'],
      ['x', 'directory'],
    ]);
  });

  it('refuses a record cut short, and one whose stat is out of shape', () => {
    for (const out of ['name', `name\0${STAT_F}`, `a\0${STAT_F}\0b`])
      expect(() => parseList(Buffer.from(out)), JSON.stringify(out)).toThrow(/could not read a directory entry/);
    expect(() => parseList(Buffer.from(`name\0not a stat\0`))).toThrow(/could not read a stat line/);
  });
});

describe('parseWrite', () => {
  it('reads a new file: its stat, and no file replaced', () => {
    expect(parseWrite(Buffer.from(`${STAT_F}\n-\n-\nopenssl\n`))).toEqual({ after: parseStat(STAT_F), before: null, hashedBy: 'openssl' });
  });

  it('reads a replaced file: its stat and its sha256', () => {
    const old = 'f 3 600 0 0 1600000000.0 7 2049';
    expect(parseWrite(Buffer.from(`${STAT_F}\n${old}\n${SHA}\nsha256sum\n`))).toEqual({
      after: parseStat(STAT_F),
      before: { stat: parseStat(old), sha256: SHA },
      hashedBy: 'sha256sum',
    });
  });

  it('refuses any other number of lines, or a missing last newline', () => {
    for (const out of [
      '',
      `${STAT_F}\n-\n-\n`,
      `${STAT_F}\n-\n-\nopenssl`,
      `${STAT_F}\n-\n-\nopenssl\n\n`,
      `extra\n${STAT_F}\n-\n-\nopenssl\n`,
    ])
      expect(() => parseWrite(Buffer.from(out)), JSON.stringify(out)).toThrow(/could not read the outcome of a write/);
  });

  it('refuses a sha256 out of shape, and a stat line out of shape', () => {
    for (const sum of ['-', SHA.toUpperCase(), SHA.slice(1), `${SHA}0`])
      expect(() => parseWrite(Buffer.from(`${STAT_F}\n${STAT_F}\n${sum}\nopenssl\n`)), sum).toThrow(/could not read a sha256/);
    expect(() => parseWrite(Buffer.from(`bad\n-\n-\nopenssl\n`))).toThrow(/stat line/);
    expect(() => parseWrite(Buffer.from(`${STAT_F}\nbad\n${SHA}\nopenssl\n`))).toThrow(/stat line/);
  });

  it('refuses a tool it does not know, or none, as the one that hashed', () => {
    for (const by of ['', 'md5sum', 'openssl ', 'Openssl'])
      expect(() => parseWrite(Buffer.from(`${STAT_F}\n-\n-\n${by}\n`)), by).toThrow(/could not read the tool that hashed/);
  });
});

describe('parseHash', () => {
  it('reads the sha256 and the tool', () => {
    expect(parseHash(`${SHA} openssl`)).toEqual({ sha256: SHA, by: 'openssl' });
    expect(parseHash(`${SHA} sha256sum`)).toEqual({ sha256: SHA, by: 'sha256sum' });
  });

  it('refuses a line out of shape', () => {
    for (const line of ['', SHA, `${SHA.toUpperCase()} openssl`, `${SHA.slice(1)} openssl`, ` ${SHA} openssl`])
      expect(() => parseHash(line), line).toThrow(/could not read a sha256/);
    expect(() => parseHash(`${SHA} sha1sum`)).toThrow(/could not read the tool that hashed/);
  });
});

describe('firstLine', () => {
  it('gives the first line, the whole output when there is no newline, or nothing', () => {
    expect(firstLine(Buffer.from(`${SHA}\nmore\n`))).toBe(SHA);
    expect(firstLine(Buffer.from('-'))).toBe('-');
    expect(firstLine(Buffer.from('\nsecond'))).toBe('');
    expect(firstLine(Buffer.alloc(0))).toBe('');
  });
});

describe('ReadStream', () => {
  const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 31) % 256));
  const header = `f ${data.length} 644 0 0 1700000000.5 9 2049`;

  it('passes the data on whatever the cut, the trailer and the header split across chunks', async () => {
    const whole = readOutput(data, header, header, 'login noise\n');
    // Every cut point in the frame, the header and the trailer, and a few in the data.
    const cuts = [...Array.from({ length: 120 }, (_, i) => i), 2500, ...Array.from({ length: 120 }, (_, i) => whole.length - 1 - i)];
    for (const cut of cuts) {
      const got: Buffer[] = [];
      const s = new ReadStream(FRAME, (c) => void got.push(Buffer.from(c)));
      void s.push(whole.subarray(0, cut));
      void s.push(whole.subarray(cut));
      expect(s.header?.size, String(cut)).toBe(data.length);
      expect((await s.end())?.version, String(cut)).toBe(parseStat(header).version);
      expect(Buffer.concat(got).equals(data), String(cut)).toBe(true);
    }
  });

  it('holds back no more than the longest trailer: the data is passed on as it comes', async () => {
    const got: Buffer[] = [];
    const s = new ReadStream(FRAME, (c) => void got.push(Buffer.from(c)));
    void s.push(Buffer.from(`${FRAME}\n${header}\n`));
    expect(got).toEqual([]);
    void s.push(data);
    const passed = Buffer.concat(got).length;
    expect(passed).toBe(data.length - (FRAME.length + 1 + 256));
    void s.push(Buffer.from(`${FRAME}\n${header}\n`));
    expect((await s.end())?.size).toBe(data.length);
    expect(Buffer.concat(got).equals(data)).toBe(true);
  });

  it('takes the trailer as the last frame: frames inside the data are data', async () => {
    const tricky = Buffer.from(`${FRAME}\n${header}\n${FRAME}\n`);
    const whole = readOutput(tricky, `f ${tricky.length} 644 0 0 1.0 1 1`, `f ${tricky.length} 644 0 0 1.0 1 1`);
    for (const size of [1, 2, 5, 64, whole.length]) {
      const got: Buffer[] = [];
      const s = new ReadStream(FRAME, (c) => void got.push(Buffer.from(c)));
      for (let i = 0; i < whole.length; i += size) void s.push(whole.subarray(i, i + size));
      expect((await s.end())?.size, String(size)).toBe(tricky.length);
      expect(Buffer.concat(got).toString(), String(size)).toBe(tricky.toString());
    }
  });

  it('reads an empty file, and a file gone by the end (an empty trailer line)', async () => {
    const empty = new ReadStream(FRAME, () => expect.unreachable('no data'));
    void empty.push(readOutput(Buffer.alloc(0), 'f 0 644 0 0 1.0 1 1', 'f 0 644 0 0 1.0 1 1'));
    expect(await empty.end()).toMatchObject({ type: 'file', size: 0 });
    const gone = new ReadStream(FRAME, () => undefined);
    void gone.push(readOutput(Buffer.from('abc'), 'f 3 644 0 0 1.0 1 1', ''));
    expect(await gone.end()).toBeNull();
    // The script's last printf may be all there is after the frame: no newline at all.
    const bare = new ReadStream(FRAME, () => undefined);
    void bare.push(Buffer.from(`${FRAME}\nf 0 644 0 0 1.0 1 1\n${FRAME}\n`));
    expect(await bare.end()).toBeNull();
  });

  it('refuses output without the frame, once more than 64 KiB came', () => {
    const s = new ReadStream(FRAME, () => undefined);
    void s.push(Buffer.alloc(60 * 1024, 'n'));
    expect(s.header).toBeUndefined();
    expect(() => s.push(Buffer.alloc(5 * 1024, 'n'))).toThrow(/could not read the frame/);
  });

  it('waits for the whole header line, and refuses one out of shape', () => {
    const s = new ReadStream(FRAME, () => undefined);
    void s.push(Buffer.from(`${FRAME}\nf 3 644`));
    expect(s.header).toBeUndefined();
    void s.push(Buffer.from(' 0 0 1.0 1 1\nabc'));
    expect(s.header?.size).toBe(3);
    const bad = new ReadStream(FRAME, () => undefined);
    expect(() => bad.push(Buffer.from(`${FRAME}\nnot a stat\n`))).toThrow(/stat line/);
  });

  it('refuses an end without a header, or without the trailing frame', async () => {
    const noHeader = new ReadStream(FRAME, () => undefined);
    void noHeader.push(Buffer.from(`noise\n${FRAME}`));
    await expect(noHeader.end()).rejects.toThrow(/could not read the end of a read/);
    const cut = new ReadStream(FRAME, () => undefined);
    void cut.push(Buffer.from(`${FRAME}\nf 3 644 0 0 1.0 1 1\nabc`));
    await expect(cut.end()).rejects.toThrow(/the end of a read/);
    await expect(new ReadStream(FRAME, () => undefined).end()).rejects.toThrow(/the end of a read/);
  });

  it('refuses a trailer stat out of shape', async () => {
    const s = new ReadStream(FRAME, () => undefined);
    void s.push(readOutput(Buffer.from('abc'), 'f 3 644 0 0 1.0 1 1', 'garbage'));
    await expect(s.end()).rejects.toThrow(/stat line/);
  });
});

describe('scriptCommand', () => {
  it('runs each script by /bin/sh, the frame first of the parameters', () => {
    for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
      const c = scriptCommand(name, FRAME, ['/a b']);
      expect(c.startsWith("exec /bin/sh -c 'LC_ALL=C; export LC_ALL\n"), name).toBe(true);
      expect(c.endsWith(` sshgate-files '${FRAME}' '/a b'`), name).toBe(true);
    }
  });

  it('refuses a NUL in any word, the frame included', () => {
    expect(() => scriptCommand('read', `${FRAME}\0`, ['/a'])).toThrow(/NUL byte/);
    expect(() => scriptCommand('write', FRAME, ['/a', '', '0', '644', '1', SHA, 'a\0'])).toThrow(/NUL byte/);
    expect(() => scriptCommand('list', FRAME, ['/a\0'])).toThrow(expect.objectContaining({ code: 'invalid_input' }));
  });
});
