import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditFile, verifyAuditFile } from '../../../src/audit/audit-file.js';
import { runCli } from '../../../src/commands/dispatch.js';

const dir = mkdtempSync(join(tmpdir(), 'sshgate-audit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function written(records = 5): string {
  const path = join(dir, `audit.${++n}.jsonl`);
  const f = new AuditFile(path);
  for (let i = 0; i < records; i++) f.append({ event: 'decision', alias: `h${i}`, command: `echo ${i}`, allowed: i % 2 === 0 });
  f.close();
  return path;
}
const lines = (path: string) => readFileSync(path, 'utf8').trim().split('\n');

async function cli(...argv: string[]) {
  let out = '';
  const code = await runCli(argv, {}, { out: (t) => (out += t), err: (t) => (out += t) });
  return { code, out };
}

describe('the audit file', () => {
  it('chains every record to the one before, and verifies (mode 0600)', () => {
    const path = written();
    expect(verifyAuditFile(path)).toMatchObject({ ok: true, records: 5 });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('goes on with the chain after a restart', () => {
    const path = written(2);
    const again = new AuditFile(path);
    again.append({ event: 'task_end' });
    again.close();
    expect(verifyAuditFile(path)).toMatchObject({ ok: true, records: 3 });
  });

  const tamper: [string, (l: string[]) => string[], number][] = [
    ['a changed field', (l) => l.map((x, i) => (i === 2 ? x.replace('"allowed":true', '"allowed":false') : x)), 3],
    ['a removed record', (l) => l.filter((_, i) => i !== 1), 2],
    ['two records swapped', (l) => [l[0], l[2], l[1], l[3], l[4]] as string[], 2],
    ['an inserted record', (l) => [l[0], l[1], l[1], ...l.slice(2)] as string[], 3],
    ['a cut line', (l) => [l[0] as string, (l[1] as string).slice(0, 30), ...l.slice(2)], 2],
    [
      'a value rewritten with escapes',
      (l) => l.map((x, i) => (i === 3 ? x.replace('"command":"echo 3"', '"command":"\\u0065cho 3"') : x)),
      4,
    ],
    [
      'a duplicate key put in front',
      (l) => l.map((x, i) => (i === 1 ? x.replace('"command":', '"command":"rm -rf /srv","command":') : x)),
      2,
    ],
  ];
  for (const [what, change, line] of tamper) {
    it(`finds ${what} and names its line`, async () => {
      const path = written();
      writeFileSync(path, `${change(lines(path)).join('\n')}\n`);
      expect(verifyAuditFile(path)).toMatchObject({ ok: false, line });
      // Read a few bytes at a time, lines and characters cut by every boundary: the same verdict.
      for (const readBytes of [1, 7, 64]) expect(verifyAuditFile(path, readBytes)).toEqual(verifyAuditFile(path));
      const r = await cli('audit', 'verify', path);
      expect(r.code).toBe(1);
      expect(r.out).toContain(`:${line}: TAMPERED`);
      expect(() => new AuditFile(path)).toThrow(/fails verification/);
    });
  }

  it('is read piece by piece: any read size gives the same verdict, multi-byte characters and a last line without its newline included', () => {
    const path = join(dir, `audit.${++n}.jsonl`);
    const f = new AuditFile(path);
    for (let i = 0; i < 20; i++) f.append({ event: 'decision', command: `echo ${'é€😀'.repeat(i)}` });
    f.close();
    const whole = verifyAuditFile(path);
    expect(whole).toMatchObject({ ok: true, records: 20 });
    for (const readBytes of [1, 2, 3, 5, 100, 4096]) expect(verifyAuditFile(path, readBytes)).toEqual(whole);
    // A final record whose newline is missing still verifies as a record; a blank line does not.
    writeFileSync(path, readFileSync(path, 'utf8').slice(0, -1));
    expect(verifyAuditFile(path, 3)).toEqual(whole);
    // The server goes on after such a record on a line of its own.
    const again = new AuditFile(path);
    again.append({ event: 'task_end' });
    again.close();
    expect(verifyAuditFile(path)).toMatchObject({ ok: true, records: 21 });
    writeFileSync(path, `${readFileSync(path, 'utf8')}\n`);
    expect(verifyAuditFile(path, 3)).toMatchObject({ ok: false, line: 22 });
  });

  it('compares bytes, not decoded text: an invalid byte where a U+FFFD was written is found', () => {
    const path = join(dir, `audit.${++n}.jsonl`);
    const f = new AuditFile(path);
    f.append({ event: 'decision', command: 'echo \ufffd' });
    f.append({ event: 'task_end' });
    f.close();
    const bytes = readFileSync(path);
    const at = bytes.indexOf(Buffer.from('\ufffd'));
    // The same text once decoded, other bytes on disk.
    writeFileSync(path, Buffer.concat([bytes.subarray(0, at), Buffer.from([0xff]), bytes.subarray(at + 3)]));
    expect(verifyAuditFile(path)).toMatchObject({ ok: false, line: 1, reason: expect.stringContaining('invalid UTF-8') });
  });

  it('stops at a line too long to be a record, in bounded memory, and leaves no descriptor or lock behind', () => {
    const path = written(2);
    writeFileSync(path, `${readFileSync(path, 'utf8')}${'x'.repeat(17 << 20)}`);
    expect(verifyAuditFile(path)).toMatchObject({ ok: false, line: 3, records: 2, reason: expect.stringContaining('longer than 16 MiB') });
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    expect(() => new AuditFile(path)).toThrow(/fails verification at line 3/);
    expect(fds()).toBe(before);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it("refuses a second writer while the first holds the file, and takes over a dead one's lock", () => {
    const path = join(dir, `audit.${++n}.jsonl`);
    const first = new AuditFile(path);
    expect(() => new AuditFile(path)).toThrow(); // same process: the lock is held
    first.close();
    writeFileSync(`${path}.lock`, '999999999\n'); // a pid no process has
    const second = new AuditFile(path);
    second.append({ event: 'x' });
    second.close();
    expect(verifyAuditFile(path)).toMatchObject({ ok: true, records: 1 });
  });

  it('sshgate audit verify: 0 for an intact file, 2 for a missing one', async () => {
    const ok = await cli('audit', 'verify', written());
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/5 records, chain intact; last hash [0-9a-f]{64}/);
    expect((await cli('audit', 'verify', join(dir, 'missing'))).code).toBe(2);
    expect((await cli('audit', 'check')).code).toBe(2);
  });
});
