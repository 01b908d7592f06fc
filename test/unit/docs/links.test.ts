import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { headingSlug, isExternal, parseMarkdown, type MarkdownFile } from '../../support/markdown-links.js';

const root = resolve(import.meta.dirname, '../../..');
const pages = [
  'README.md',
  'CONTRIBUTING.md',
  'SECURITY.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
].filter((page) => existsSync(join(root, page)));

const parsed = new Map<string, MarkdownFile>();
function page(path: string): MarkdownFile {
  let file = parsed.get(path);
  if (!file) {
    file = parseMarkdown(readFileSync(path, 'utf8'));
    parsed.set(path, file);
  }
  return file;
}

/** What is wrong with one relative link of `from`, or undefined when it leads somewhere. */
function brokenReason(from: string, target: string): string | undefined {
  const hash = target.indexOf('#');
  const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const file = pathPart === '' ? from : pathPart.startsWith('/') ? join(root, pathPart) : resolve(dirname(from), pathPart);
  if (relative(root, file).split(sep)[0] === '..') return 'leads out of the repository';
  if (!existsSync(file)) return `no file ${relative(root, file)}`;
  if (anchor === undefined || statSync(file).isDirectory() || extname(file).toLowerCase() !== '.md') return undefined;
  if (!page(file).anchors.has(anchor)) return `no heading with the anchor #${anchor} in ${relative(root, file)}`;
  return undefined;
}

describe('documentation links', () => {
  it('covers the README, CONTRIBUTING, SECURITY and every page under docs/', () => {
    expect(pages).toEqual(expect.arrayContaining(['README.md', 'SECURITY.md', 'docs/fuzzing.md']));
  });

  it('keeps the README a front door of at most 12 KB, the rest one link away in docs/', () => {
    expect(statSync(join(root, 'README.md')).size).toBeLessThanOrEqual(12 * 1024);
  });

  it.each(pages)('every relative link and #anchor of %s resolves', (name) => {
    const path = join(root, name);
    const broken = page(path)
      .links.filter((link) => !isExternal(link.target))
      .map((link) => ({ ...link, reason: brokenReason(path, link.target) }))
      .filter((link) => link.reason !== undefined)
      .map((link) => `${name}:${link.line}: (${link.target}) ${link.reason}`);
    expect(broken).toEqual([]);
  });
});

describe('the markdown reader behind the link check', () => {
  it('makes anchors as GitHub does: lower case, punctuation dropped, each space a hyphen', () => {
    expect(headingSlug('Tasks and cancellation')).toBe('tasks-and-cancellation');
    expect(headingSlug('`config/servers.yml` — the inventory')).toBe('configserversyml--the-inventory');
    expect(headingSlug('Options and environment')).toBe('options-and-environment');
    expect(headingSlug('`ssh_run`: **results** sized for a [model](x.md)')).toBe('ssh_run-results-sized-for-a-model');
  });

  it('numbers a repeated heading -1, -2 as GitHub does', () => {
    const { anchors } = parseMarkdown('# Example\n## Example\n### Example\n');
    expect([...anchors]).toEqual(['example', 'example-1', 'example-2']);
  });

  it('finds inline links, images, reference definitions and links whose text wraps', () => {
    const { links } = parseMarkdown(
      'See [the policy](docs/policy.md#globs) and ![a chart](bench/chart.png "title").\n' +
        '[results]: bench/RESULTS.md\n' +
        'a [link whose text\nwraps](docs/tools.md) here\n',
    );
    expect(links).toEqual([
      { line: 1, target: 'docs/policy.md#globs' },
      { line: 1, target: 'bench/chart.png' },
      { line: 2, target: 'bench/RESULTS.md' },
      { line: 3, target: 'docs/tools.md' },
    ]);
  });

  it('ignores what sits in code: fenced blocks, their headings, and inline code spans', () => {
    const { links, anchors } = parseMarkdown(
      '```md\n# Not a heading\n[not a link](nowhere.md)\n```\n' + 'text `[not a link](nowhere.md)` and ``a ` [nor](this.md)``\n',
    );
    expect(links).toEqual([]);
    expect([...anchors]).toEqual([]);
  });

  it('tells links that leave the repository from relative ones', () => {
    expect(isExternal('https://github.com/tree-sitter/tree-sitter-bash')).toBe(true);
    expect(isExternal('mailto:security@example.com')).toBe(true);
    expect(isExternal('docs/policy.md#globs')).toBe(false);
    expect(isExternal('#commands')).toBe(false);
  });
});
