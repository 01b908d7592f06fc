import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileCacheDir, enableCompileCache } from '../../src/compile-cache.js';
import { tempDir } from '../support/policy.js';

/** A stand-in for node's module.enableCompileCache: records the directory it was given. */
function recorder() {
  const given: string[] = [];
  const enable = (directory: string) => (given.push(directory), { status: 1, directory });
  return { given, enable };
}

describe('the compile cache', () => {
  it('lives under XDG_CACHE_HOME, else ~/.cache, and nowhere without a home', () => {
    expect(compileCacheDir({ XDG_CACHE_HOME: '/x/cache', HOME: '/home/a' })).toBe('/x/cache/sshgate/compile-cache');
    expect(compileCacheDir({ HOME: '/home/a' })).toBe('/home/a/.cache/sshgate/compile-cache');
    expect(compileCacheDir({ XDG_CACHE_HOME: '', HOME: '/home/a' })).toBe('/home/a/.cache/sshgate/compile-cache');
    expect(compileCacheDir({})).toBeUndefined();
  });

  it('is turned on in a directory made private to the user', () => {
    const home = tempDir();
    const { given, enable } = recorder();
    const dir = join(home, '.cache', 'sshgate', 'compile-cache');
    expect(enableCompileCache({ HOME: home }, enable)).toBe(dir);
    expect(given).toEqual([dir]);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('is left alone in a directory others can write: V8 would run what it finds there', () => {
    const cache = tempDir();
    const dir = join(cache, 'sshgate', 'compile-cache');
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o777);
    const { given, enable } = recorder();
    expect(enableCompileCache({ XDG_CACHE_HOME: cache }, enable)).toBeUndefined();
    expect(given).toEqual([]);
  });

  it("defers to node's own variables", () => {
    const { given, enable } = recorder();
    const home = tempDir();
    expect(enableCompileCache({ HOME: home, NODE_COMPILE_CACHE: '/var/cache/x' }, enable)).toBeUndefined();
    expect(enableCompileCache({ HOME: home, NODE_DISABLE_COMPILE_CACHE: '1' }, enable)).toBeUndefined();
    expect(enableCompileCache({}, enable)).toBeUndefined();
    expect(given).toEqual([]);
  });
});
