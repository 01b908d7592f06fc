import { join, relative, resolve } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');

/**
 * Lints a fixture with the project's eslint.config.js, the fixture's folder standing in for the
 * repository: its src/ is linted as src/ is by `npm run lint`.
 */
async function lint(fixture: string, folders = ['src']) {
  const cwd = join(import.meta.dirname, 'fixtures', fixture);
  const eslint = new ESLint({ cwd, overrideConfigFile: join(root, 'eslint.config.js') });
  const results = await eslint.lintFiles(folders);
  return results.flatMap((r) => r.messages.map((m) => ({ file: relative(cwd, r.filePath), rule: m.ruleId, message: m.message })));
}

const layer = (file: string, message: string) => ({ file, rule: 'layers/imports', message: expect.stringContaining(message) });

// Generous: each run loads the whole config, and other suites share this machine's two cores.
describe('the layer rules of npm run lint', { timeout: 60_000 }, () => {
  it('refuses an import from src/config up into src/policy', async () => {
    expect(await lint('violation')).toEqual([layer('src/config/load.ts', 'src/config may import only the files directly in src/')]);
  });

  // One file per rule of docs/architecture-layers.md, each breaking it once (auth/tokens.ts also
  // imports config, which it may).
  it('refuses each rule broken, however the import is written', async () => {
    const gateway = 'src/policy may import src/{config} and the files directly in src/';
    const messages = await lint('rules');
    expect(messages).toEqual([
      layer(
        'src/auth/tokens.ts',
        'src/auth may import src/{config} and the files directly in src/: ../gateway/gateway.js is in src/gateway',
      ),
      layer('src/config/ssh2.ts', 'only src/{ssh,demo} import ssh2'),
      layer('src/gateway/sdk.ts', 'only src/{mcp,commands} import @modelcontextprotocol/*'),
      layer('src/leaf.ts', 'a file directly in src/ may import only the files directly in src/'),
      layer('src/policy/below-mcp.ts', `${gateway}: ../gateway/gateway.js is in src/gateway`),
      layer('src/policy/below-mcp.ts', `${gateway}: ../mcp/server.js is in src/mcp`),
      layer('src/policy/below-mcp.ts', `${gateway}: ../commands/serve.js is in src/commands`),
      layer('src/policy/computed.ts', 'a computed module specifier: the layer rules cannot see where it leads'),
      // A detour through an allowed folder, or out of src/ and back, is where it lands.
      layer('src/policy/detour.ts', `${gateway}: ../config/../gateway/gateway.js is in src/gateway`),
      layer('src/policy/detour.ts', `${gateway}: ./../gateway/gateway.js is in src/gateway`),
      layer('src/policy/detour.ts', `${gateway}: ../../src/gateway/gateway.js is in src/gateway`),
      layer('src/policy/dynamic.ts', `${gateway}: ../gateway/gateway.js is in src/gateway`),
      // typeof import('…') in a type.
      layer('src/policy/type-import.ts', `${gateway}: ../gateway/gateway.js is in src/gateway`),
      layer('src/tasks/runner.ts', 'src/tasks may import src/{config} and the files directly in src/: ../ssh/pool.js is in src/ssh'),
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

describe('the typed rules of npm run lint', { timeout: 60_000 }, () => {
  it('refuse a floating promise in test/ and bench/ as in src/', async () => {
    const floating = { rule: '@typescript-eslint/no-floating-promises', message: expect.stringContaining('Promises must be awaited') };
    expect(await lint('typed', ['test', 'bench'])).toEqual([
      { file: 'test/floating.ts', ...floating },
      { file: 'bench/floating.ts', ...floating },
    ]);
  });
});
