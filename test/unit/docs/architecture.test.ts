import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
const pages = readdirSync(join(root, 'docs'))
  .filter((name) => /^architecture.*\.md$/.test(name))
  .map((name) => `docs/${name}`);
const text = (page: string) => readFileSync(join(root, page), 'utf8');

/** Every path of the repository a page names, in code or in prose: `src/…`, `test/…`, `bench/…`, `.ci/…`. */
function pathsNamed(page: string): string[] {
  const found = text(page).matchAll(/(?<![\w./-])((?:src|test|bench|\.ci)\/[\w./-]*)/g);
  return [...new Set([...found].map((m) => m[1]!.replace(/[.,]+$/, '')))];
}

/** The folders and the files directly in src/, as the pages name them: `policy/`, `errors.ts`. */
const srcEntries = readdirSync(join(root, 'src'), { withFileTypes: true }).map((e) => (e.isDirectory() ? `${e.name}/` : e.name));
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('the architecture pages', () => {
  it('are docs/architecture.md and docs/architecture-layers.md', () => {
    expect(pages).toEqual(expect.arrayContaining(['docs/architecture.md', 'docs/architecture-layers.md']));
  });

  it.each(pages)('%s names only paths that exist', (page) => {
    const paths = pathsNamed(page);
    expect(paths.length).toBeGreaterThan(0);
    expect(paths.filter((path) => !existsSync(join(root, path)))).toEqual([]);
  });

  it.each(pages)('%s names every folder and every file directly in src/', (page) => {
    const body = text(page);
    const missing = srcEntries.filter((entry) => !new RegExp(`(?<![\\w.-])${escape(entry)}(?![\\w-])`).test(body));
    expect(missing).toEqual([]);
  });
});
