/**
 * The Docker image's start: a V8 startup snapshot of src/snapshot.ts (docs/architecture.md,
 * "Start"), built here as the Dockerfile builds it (npm run build:snapshot, then node
 * --build-snapshot with the ENTRYPOINT's V8 flags) with the Node that runs this suite, and started
 * as the ENTRYPOINT starts it: node FLAGS --snapshot-blob BLOB -- ARGS.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBody, removeConfig, startGate, writeConfig, type Gate } from '../support/mcp.js';
import { tempDir } from '../support/policy.js';
import { openSession } from '../support/http-mcp.js';
import { startServeHttp } from '../support/serve-http.js';
import { buildImageBlob } from '../support/snapshot-blob.js';
import { startFleet, type Fleet } from '../support/sshd.js';
import { TOOL_NAMES } from '../support/tools.js';

let fleet: Fleet;
let dir: string;
/** node's options before the arguments, as the image's ENTRYPOINT gives them. */
let fromBlob: string[];
const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

beforeAll(async () => {
  fromBlob = buildImageBlob(process.execPath, tempDir());
  fleet = await startFleet(2, { subnet: 178 });
  dir = writeConfig(fleet, { hosts: fleet.hosts });
}, 120_000);

afterAll(async () => {
  await fleet?.stop();
  if (dir) removeConfig(dir);
});

/** sshgate ARGS started from the blob, as the image runs it. */
function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [...fromBlob, '--', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env } });
}

describe('a start from the startup snapshot', () => {
  it("runs sshgate's commands with the arguments after --, its own options included", () => {
    const v = run(['--version']);
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout.trim()).toBe(version);
    const usage = run(['no-such-command']);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/usage: sshgate/);
  });

  it('checks a configuration (the image HEALTHCHECK), read from the paths and environment of the start', () => {
    const ok = run(['check', '--config', join(dir, 'config'), '--policy', join(dir, 'policies')]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/2 hosts/);
    // The same through the environment: read when the process starts, not when the blob was built.
    const viaEnv = run(['check'], { SSHGATE_CONFIG_DIR: join(dir, 'config'), SSHGATE_POLICY: join(dir, 'policies') });
    expect(viaEnv.status, viaEnv.stderr).toBe(0);
    const missing = run(['check'], { SSHGATE_CONFIG_DIR: join(dir, 'nowhere'), SSHGATE_POLICY: join(dir, 'policies') });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain(join(dir, 'nowhere'));
  });

  describe('serving MCP over stdio', () => {
    let gate: Gate;
    let plain: Gate;
    beforeAll(async () => {
      gate = await startGate(dir, { SSHGATE_LOG_LEVEL: 'warn' }, fromBlob, undefined, process.execPath, '--');
      plain = await startGate(dir, {}, []);
    });
    afterAll(async () => {
      await gate?.close();
      await plain?.close();
    });

    it('lists the tools and their schemas exactly as dist/cli.js does', async () => {
      const [fromSnapshot, fromCli] = await Promise.all([gate.client.listTools(), plain.client.listTools()]);
      expect(fromSnapshot.tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
      expect(fromSnapshot).toEqual(fromCli);
    });

    it('runs what the policy allows over SSH (ssh2 and the shell grammar loaded at run time) and refuses the rest', async () => {
      const r = await gate.call('ssh_run', { alias: 'h1', command: 'echo hi | tr a-z A-Z' });
      expect(r.isError, JSON.stringify(r)).toBeFalsy();
      expect((r.structuredContent as { stdout: string }).stdout).toBe('HI\n');
      const denied = await gate.call('ssh_run', { alias: 'h2', command: 'echo x; reboot' });
      expect(denied.isError).toBe(true);
      expect(errorBody(denied).code).toBe('policy_denied');
      const fanned = await gate.call('ssh_run_on_tag', { tag: 'test', command: 'hostname >/dev/null; echo ok' });
      expect(fanned.isError, JSON.stringify(fanned)).toBeFalsy();
    });

    it("logs at its environment's level, not the default the blob was built with", () => {
      // warn: the calls above decided commands, whose audit lines are info (30) and left out.
      const levels = gate
        .log()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => (JSON.parse(l) as { level: number }).level);
      expect(levels.filter((level) => level < 40)).toEqual([]);
    });
  });

  it('serves MCP over HTTP: the HTTP stack is loaded as serve --http starts', async () => {
    const server = await startServeHttp(dir, { nodeArgs: fromBlob, cli: '--', env: { SSHGATE_TOKEN: 'snapshot-test-token-0123456789' } });
    try {
      const client = new Client({ name: 'snapshot-test', version: '1' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(server.url), {
          requestInit: { headers: { Authorization: 'Bearer snapshot-test-token-0123456789' } },
        }),
      );
      const r = await client.callTool({ name: 'ssh_run', arguments: { alias: 'h1', command: 'echo over-http' } });
      expect(r.isError, JSON.stringify(r)).toBeFalsy();
      expect((r.structuredContent as { stdout: string }).stdout).toBe('over-http\n');
      await client.close();
      // Its log carries its own pid (info: its default level), not the one of the build.
      const pids = server
        .log()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => (JSON.parse(l) as { pid: number }).pid);
      expect(pids.length).toBeGreaterThan(0);
      expect(new Set(pids)).toEqual(new Set([server.process.pid]));
    } finally {
      await server.stop();
    }
  });

  it('mints its own random ids in every start: two servers from one blob give different session ids', async () => {
    const token = 'snapshot-test-token-0123456789';
    const servers = await Promise.all(
      [0, 1].map(() => startServeHttp(dir, { nodeArgs: fromBlob, cli: '--', env: { SSHGATE_TOKEN: token } })),
    );
    try {
      const ids = await Promise.all(servers.flatMap((s) => [openSession({ port: s.port, token }), openSession({ port: s.port, token })]));
      expect(new Set(ids).size).toBe(4);
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  });

  it('runs as a plain script too (node dist/snapshot.cjs ARGS), as it runs when the blob is built', () => {
    const r = spawnSync(process.execPath, [resolve('dist/snapshot.cjs'), '--version'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });
});
