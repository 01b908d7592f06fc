import { join, relative, resolve } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');

/**
 * Lints a fixture with the project's eslint.config.js, the fixture's folder standing in for the
 * repository: its src/ is linted as src/ is by `npm run lint`.
 */
async function lint(fixture: string) {
  const cwd = join(import.meta.dirname, 'fixtures', fixture);
  const eslint = new ESLint({ cwd, overrideConfigFile: join(root, 'eslint.config.js') });
  const results = await eslint.lintFiles(['src']);
  return results.flatMap((r) => r.messages.map((m) => ({ file: relative(cwd, r.filePath), rule: m.ruleId, message: m.message })));
}

// Generous: each run loads the whole config, and other suites share this machine's two cores.
describe('the layer rules of npm run lint', { timeout: 60_000 }, () => {
  it('refuses an import from src/config up into src/policy', async () => {
    expect(await lint('violation')).toEqual([
      {
        file: 'src/config/load.ts',
        rule: 'no-restricted-imports',
        message: expect.stringContaining('src/config may import only the files directly in src/'),
      },
    ]);
  });

  it('refuses two files that import each other', async () => {
    expect(await lint('cycle')).toEqual([
      { file: 'src/tasks/a.ts', rule: 'import-x/no-cycle', message: 'Dependency cycle detected' },
      { file: 'src/tasks/b.ts', rule: 'import-x/no-cycle', message: 'Dependency cycle detected' },
    ]);
  });

  it('passes imports that run down the layers and into the leaf files', async () => {
    expect(await lint('clean')).toEqual([]);
  });
});
