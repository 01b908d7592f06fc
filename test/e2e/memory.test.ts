import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Parses a long command line many times, the way a hot parser would be tiered up. */
const parseHot = (parserModule: string, raw: boolean) => `
  const { createRequire } = await import('node:module');
  const require = createRequire(${JSON.stringify(resolve('package.json'))});
  let parse;
  if (${raw}) {
    const { Language, Parser } = await import(require.resolve('web-tree-sitter'));
    await Parser.init();
    const parser = new Parser();
    parser.setLanguage(await Language.load(require.resolve('tree-sitter-bash/tree-sitter-bash.wasm')));
    parse = (s) => parser.parse(s).delete();
  } else {
    const { createShellParser } = await import(${JSON.stringify(parserModule)});
    const p = await createShellParser();
    parse = (s) => p.parse(s);
  }
  const line = Array.from({ length: 300 }, (_, i) => 'w' + i + ' "$x" \\'q\\' | grep -v a' + i).join(' ') + ' true';
  for (let i = 0; i < 200; i++) parse(line);
`;

function turbofanCompilations(script: string): number {
  const r = spawnSync(process.execPath, ['--trace-wasm-compilation-times', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return (r.stdout.match(/using TurboFan/g) ?? []).length;
}

describe("the built server's memory settings", () => {
  it('compile the shell grammar with Liftoff only: a hot parser is never tiered up to TurboFan', () => {
    // Without the settings this Node does tier the grammar up: the trace would show it.
    expect(turbofanCompilations(parseHot('', true))).toBeGreaterThan(0);
    expect(turbofanCompilations(parseHot(resolve('dist/policy/parse.js'), false))).toBe(0);
  }, 60_000);
});
