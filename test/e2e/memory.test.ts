import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WASM_FLAGS } from '../../src/memory.js';

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

function turbofanCompilations(script: string, nodeArgs: readonly string[] = []): number {
  const r = spawnSync(process.execPath, [...nodeArgs, '--trace-wasm-compilation-times', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return (r.stdout.match(/using TurboFan/g) ?? []).length;
}

/**
 * Loaded with --import before sshgate: writes a line to $WASM_PROBE_OUT for every V8 flag set at
 * run time and for every WebAssembly module compiled or instantiated, in the order they happen.
 */
const PROBE = `
import { appendFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import v8 from 'node:v8';
const note = (line) => appendFileSync(process.env.WASM_PROBE_OUT, line + '\\n');
const setFlags = v8.setFlagsFromString;
v8.setFlagsFromString = (flag) => { note('flag ' + flag); return setFlags(flag); };
syncBuiltinESMExports();
for (const name of ['compile', 'instantiate', 'compileStreaming', 'instantiateStreaming']) {
  const original = WebAssembly[name];
  WebAssembly[name] = function (...args) { note('wasm ' + name); return original.apply(this, args); };
}
WebAssembly.Module = new Proxy(WebAssembly.Module, { construct: (target, args, nt) => (note('wasm Module'), Reflect.construct(target, args, nt)) });
`;

let tmp: string;
let probes = 0;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sshgate-memory-'));
  writeFileSync(join(tmp, 'probe.mjs'), PROBE);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * Starts `node NODE_ARGS dist/cli.js serve` on the example config under the probe, asks it for its
 * tools, and waits until it has loaded what calls need (its parser made, ssh2 loaded: it then logs
 * which known_hosts file it checks), then closes its stdin; returns what the probe saw.
 */
async function probeServe(nodeArgs: string[]): Promise<string[]> {
  const out = join(tmp, `probe.${++probes}.log`);
  writeFileSync(out, '');
  const server = spawn(
    process.execPath,
    [...nodeArgs, '--import', join(tmp, 'probe.mjs'), resolve('dist/cli.js'), 'serve', '--config', 'config', '--policy', 'policies'],
    {
      env: { PATH: process.env.PATH ?? '', WASM_PROBE_OUT: out, SSHGATE_STATE_DIR: join(tmp, 'state') },
      stdio: ['pipe', 'ignore', 'pipe'],
    },
  );
  let log = '';
  const exited = new Promise((r) => server.once('exit', r));
  const ready = new Promise<void>((r) => {
    server.stderr.on('data', (d: Buffer) => {
      log += d.toString();
      if (log.includes('host keys are checked against')) r();
    });
  });
  const initialize = { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'probe', version: '1' } };
  for (const message of [
    { jsonrpc: '2.0', id: 1, method: 'initialize', params: initialize },
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { jsonrpc: '2.0', id: 2, method: 'tools/list' },
  ])
    server.stdin.write(`${JSON.stringify(message)}\n`);
  await Promise.race([ready, exited]);
  server.stdin.end();
  await exited;
  expect(log).toContain('sshgate serving MCP');
  return readFileSync(out, 'utf8').split('\n').filter(Boolean);
}

describe("the built server's memory settings", () => {
  it('are set, started as `node dist/cli.js serve`, before any WebAssembly is compiled, and once', async () => {
    const seen = await probeServe([]);
    // ssh2's poly1305 and the shell grammar are compiled by the time the server is ready for calls.
    expect(seen.filter((l) => l.startsWith('wasm ')).length).toBeGreaterThanOrEqual(2);
    expect(seen.slice(0, WASM_FLAGS.length)).toEqual(WASM_FLAGS.map((f) => `flag ${f}`));
    expect(seen.filter((l) => l.startsWith('flag '))).toHaveLength(WASM_FLAGS.length);
  }, 30_000);

  it("are set by no one at run time when node is given them, as the Docker image's entry does", async () => {
    const seen = await probeServe([...WASM_FLAGS]);
    expect(seen.filter((l) => l.startsWith('wasm ')).length).toBeGreaterThanOrEqual(2);
    expect(seen.filter((l) => l.startsWith('flag '))).toEqual([]);
  }, 30_000);

  it('compile the shell grammar with Liftoff only: a hot parser is never tiered up to TurboFan', () => {
    // Without the settings this Node does tier the grammar up: the trace would show it.
    expect(turbofanCompilations(parseHot('', true))).toBeGreaterThan(0);
    expect(turbofanCompilations(parseHot(resolve('build/policy/parse.js'), false))).toBe(0);
    // The same flags given to node at start instead, the parser setting none: the same code.
    expect(turbofanCompilations(parseHot(resolve('build/policy/parse.js'), false), WASM_FLAGS)).toBe(0);
  }, 60_000);
});
