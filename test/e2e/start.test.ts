import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/gateway.js';
import { PUBLISHED_SCHEMAS_FILE, ToolRegistry } from '../../src/mcp/registry.js';
import { registerTools } from '../../src/mcp/tools/index.js';
import { removeConfig, startGate, writeConfig, type Gate } from '../support/mcp.js';

/**
 * What a stdio start loads before it answers tools/list, as test/support/load-log.mjs writes it
 * down: by the order of the lines, not by any clock. No host is reached: nothing here connects.
 */
const LATER = [
  { what: 'ssh2', url: /\/node_modules\/ssh2\// },
  { what: 'the shell grammar (web-tree-sitter)', url: /\/node_modules\/web-tree-sitter\// },
  // The bundle (rolldown.config.mjs) holds these in the chunks of the modules that import them.
  { what: 'the HTTP transport', url: /\/node_modules\/(@modelcontextprotocol\/node|hono|@hono\/)|\/dist\/http-[\w-]+\.js/ },
  { what: 'jose (OAuth)', url: /\/node_modules\/jose\/|\/dist\/authenticator-[\w-]+\.js/ },
];

let dir: string;
let keys: string;
let gate: Gate;
const log = () => readFileSync(join(dir, 'loads.log'), 'utf8');

beforeAll(async () => {
  keys = mkdtempSync(join(tmpdir(), 'sshgate-start-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keys, 'id')]);
  writeFileSync(join(keys, 'known_hosts'), '');
  dir = writeConfig(
    { user: 'deploy', userKeyPath: join(keys, 'id'), knownHostsPath: join(keys, 'known_hosts') },
    { hosts: [{ alias: 'web1', host: '127.0.0.1', port: 22 }] },
  );
  gate = await startGate(dir, { LOAD_LOG: join(dir, 'loads.log') }, ['--import', resolve('test/support/load-log.mjs')]);
});
afterAll(async () => {
  await gate?.close();
  removeConfig(dir);
  rmSync(keys, { recursive: true, force: true });
});

describe('a stdio start', () => {
  it('answers tools/list before it loads ssh2, the shell grammar, the HTTP transport or jose', async () => {
    await gate.client.listTools();
    const [before] = log().split('-- answered tools/list\n');
    expect(before).toMatch(/\/dist\/cli\.js/);
    for (const { what, url } of LATER) expect({ what, loaded: url.test(before as string) }).toEqual({ what, loaded: false });
  });

  it('loads ssh2 and the grammar for the first call, which is decided as ever', async () => {
    expect(await gate.ok('ssh_plan', { alias: 'web1', command: 'uptime; reboot' })).toMatchObject({ allowed: false });
    expect(await gate.ok('ssh_plan', { alias: 'web1', command: 'uptime' })).toMatchObject({ allowed: true });
    const loads = log();
    expect(loads).toMatch(LATER[0]!.url);
    expect(loads).toMatch(LATER[1]!.url);
    expect(loads).not.toMatch(LATER[2]!.url);
  });

  it('lists the JSON Schemas the build converted, the same as the sources convert', async () => {
    expect(existsSync(resolve('dist', PUBLISHED_SCHEMAS_FILE))).toBe(true);
    const fromSources = new ToolRegistry();
    registerTools(fromSources, undefined as unknown as Gateway);
    const served = (await gate.client.listTools()).tools;
    expect(JSON.parse(JSON.stringify(served))).toEqual(JSON.parse(JSON.stringify(fromSources.list())));
  });

  it('carries no ajv: the server SDK validates with its cfworker validator (src/mcp/sdk-shims.ts)', () => {
    const bundle = readdirSync('dist').filter((f) => f.endsWith('.js') && !f.startsWith('demo-'));
    const withAjv = bundle.filter((f) => /\bclass Ajv\b|new Ajv\(|ajv\/dist/.test(readFileSync(join('dist', f), 'utf8')));
    expect(withAjv).toEqual([]);
  });
});
