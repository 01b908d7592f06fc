import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkTransferRoot } from '../../../src/gateway/transfer-root.js';
import { localPathProblem, principalDir, TransferRoot } from '../../../src/gateway/transfer-local.js';
import { SshgateError } from '../../../src/errors.js';

const base = mkdtempSync(join(tmpdir(), 'sshgate-root-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

function dirAt(name: string, mode = 0o700): string {
  const d = join(base, name);
  mkdirSync(d, { recursive: true });
  chmodSync(d, mode);
  return d;
}

function refusal(f: () => unknown): SshgateError {
  try {
    f();
  } catch (err) {
    if (err instanceof SshgateError) return err;
    throw err;
  }
  throw new Error('not refused');
}

describe('checkTransferRoot', () => {
  it('takes a private directory of its own and gives its real path', () => {
    const d = dirAt('ok');
    expect(checkTransferRoot(d, [{ name: 'config dir', path: join(base, 'config') }])).toBe(d);
  });

  it('refuses a directory others may use, with chmod 700 in the hint', () => {
    const e = refusal(() => checkTransferRoot(dirAt('loose', 0o750), []));
    expect(e.code).toBe('invalid_config');
    expect(e.message).toMatch(/mode 0750/);
    expect(e.hint).toMatch(/chmod 700/);
  });

  it('refuses a symlink, a file, a missing path and a root owned by another uid', () => {
    symlinkSync(dirAt('target'), join(base, 'link'));
    expect(refusal(() => checkTransferRoot(join(base, 'link'), [])).message).toMatch(/symlink/);
    writeFileSync(join(base, 'file'), '');
    expect(refusal(() => checkTransferRoot(join(base, 'file'), [])).message).toMatch(/not a directory/);
    expect(refusal(() => checkTransferRoot(join(base, 'missing'), [])).message).toMatch(/ENOENT/);
    expect(refusal(() => checkTransferRoot(dirAt('other'), [], 12345)).message).toMatch(/uid 12345/);
  });

  it('refuses a root inside a guarded dir, and one around it', () => {
    const config = dirAt('config');
    const inside = dirAt('config/transfers');
    expect(refusal(() => checkTransferRoot(inside, [{ name: 'config dir', path: config }])).message).toMatch(/overlaps the config dir/);
    const around = dirAt('around');
    dirAt('around/state');
    expect(refusal(() => checkTransferRoot(around, [{ name: 'state dir', path: join(around, 'state') }])).message).toMatch(/state dir/);
  });
});

describe('local paths', () => {
  it('refuses every loose spelling', () => {
    for (const p of ['', '/abs', '../x', 'a/../b', './x', 'a/./b', 'a//b', 'dir/', 'a\nb', 'x.sshgate-partial'])
      expect(localPathProblem(p), JSON.stringify(p)).toBeDefined();
    for (const p of ['x.bin', 'sub/x.bin', '.hidden', 'a b/c']) expect(localPathProblem(p), p).toBeUndefined();
  });

  it('follows no symlink on the way, and needs the directories to exist', async () => {
    const root = new TransferRoot(dirAt('tr'));
    dirAt('tr/sub');
    symlinkSync(base, join(base, 'tr', 'out'));
    await expect(root.place('out/x')).rejects.toMatchObject({ code: 'forbidden' });
    await expect(root.place('out')).rejects.toMatchObject({ code: 'forbidden' });
    await expect(root.place('nodir/x')).rejects.toMatchObject({ code: 'not_found' });
    await expect(root.place('sub/x')).resolves.toMatchObject({ path: join(base, 'tr', 'sub', 'x'), existing: null });
  });
});

describe('principalDir', () => {
  it('keeps a plain name, and hashes one that could be a path of its own', () => {
    expect(principalDir('alice')).toBe('alice');
    expect(principalDir('ci-bot@example.org')).toBe('ci-bot@example.org');
    for (const name of ['..', '.', '.hidden', 'a/b', '../etc', 'x'.repeat(101), 'é', '']) {
      const dir = principalDir(name);
      expect(dir, name).toMatch(/^~[0-9a-f]{16}$/);
    }
    expect(principalDir('a/b')).not.toBe(principalDir('a/c'));
  });
});
