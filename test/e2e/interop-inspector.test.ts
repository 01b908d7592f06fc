/**
 * Interop with the MCP Inspector 2.x CLI (test/interop/inspector/: @modelcontextprotocol/inspector
 * pinned by its package-lock.json, installed into .cache/inspector/ by its setup.sh and run on the
 * Docker image's Node, as the Inspector needs Node >= 22.19). It drives sshgate over stdio (the
 * one-shot CLI starts `node dist/cli.js serve` as its target) and over Streamable HTTP (a running
 * `serve --http` with a token), at `--protocol-era modern` (the stateless 2026-07-28 revision) and
 * `legacy` (the initialize handshake): it agrees on the revision, lists every tool, runs a
 * command, is refused one (exit status 5), and reads and cancels an async task.
 *
 * The one-shot CLI starts a server per run over stdio, and a stdio server cancels its tasks when
 * its client goes; so over stdio the async steps go through mcpdo, the Inspector's connection
 * daemon (same package), which holds one connection across commands. Over HTTP the one-shot CLI
 * does them, one run per call: a task belongs to the token's principal, whichever request or
 * session it came in, and the CLI leaves its 2025-era session to the idle timeout (ending it, with
 * DELETE, would cancel the tasks started in it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLOW_ALL_POLICY, goneWithin, pkillFleet, presentWithin, removeConfig, writeConfig } from '../support/mcp.js';
import { startFleet, type Fleet } from '../support/sshd.js';
import { TOOL_NAMES } from '../support/tools.js';

const SETUP = resolve('test/interop/inspector/setup.sh');
const INSTALL = resolve('.cache/inspector');
/** The Node setup.sh links there: the one the Inspector runs on. */
const NODE = join(INSTALL, 'node');
const PACKAGE = join(INSTALL, 'node_modules/@modelcontextprotocol/inspector');
/** An Inspector run may take this long on a busy machine; none is expected to come near it. */
const RUN_MS = 60_000;
const TOKEN = randomBytes(24).toString('hex');
/** What the approval case's command appends to (a line a run), and the ask rule that holds it for the client's user. */
const APPROVAL_FILES = '/tmp/sshgate-inspector-approvals';
const APPROVAL_RULE = `  - { name: "approved in the client", action: ask, approve_by: client, commands: ["echo ran >> ${APPROVAL_FILES}-*"] }\n`;

let fleet: Fleet;
let dir: string;
let server: ChildProcess;
let url: string;
let serverLog = '';
/** The Inspector's own state (catalog, secrets) and mcpdo's daemon, kept out of the real HOME. */
let inspectorEnv: Record<string, string>;

let installed: Promise<void> | undefined;
/**
 * Installs the Inspector when it is missing or out of date (.ci/run has done it already), once per
 * run. A failed install fails every test, with setup.sh's account of why: none is skipped for it.
 */
function installInspector(): Promise<void> {
  installed ??= new Promise((resolveP, reject) => {
    const setup = spawn('bash', [SETUP], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    setup.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    setup.once('error', reject);
    setup.once('exit', (code) =>
      code === 0
        ? resolveP()
        : reject(new Error(`the MCP Inspector could not be installed (test/interop/inspector/setup.sh exited with ${code}):\n${stderr}`)),
    );
  });
  return installed;
}

beforeAll(async () => {
  void installInspector().catch(() => undefined); // meanwhile; each test awaits it and fails with its error
  fleet = await startFleet(1, { subnet: 98 });
  dir = writeConfig(fleet, { hosts: fleet.hosts, policy: `${ALLOW_ALL_POLICY}${APPROVAL_RULE}` });
  const daemonDir = join(dir, 'mcpdo');
  mkdirSync(daemonDir, { mode: 0o700 });
  inspectorEnv = {
    PATH: process.env.PATH ?? '',
    HOME: join(dir, 'inspector-home'),
    NO_COLOR: '1',
    // No keychain here; the file store (in that HOME) is the one mcpdo's processes share.
    MCP_INSPECTOR_SECRET_STORE: 'file',
    MCP_INSPECTOR_DAEMON_DIR: daemonDir,
    MCP_INSPECTOR_DAEMON_TOKEN: randomBytes(24).toString('hex'),
  };
  server = spawn(process.execPath, serveArgs(['--http', '127.0.0.1:0']), {
    env: { PATH: process.env.PATH ?? '', SSHGATE_TOKEN: TOKEN, SSHGATE_STATE_DIR: join(dir, 'state-http') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  server.stderr?.on('data', (d: Buffer) => (serverLog += d.toString()));
  for (let i = 0; i < 600 && !/"port":(\d+)/.test(serverLog); i++) await new Promise((r) => setTimeout(r, 50));
  const port = Number(/"port":(\d+)/.exec(serverLog)?.[1]);
  if (!(port > 0)) throw new Error(`serve --http did not start:\n${serverLog}`);
  url = `http://127.0.0.1:${port}/mcp`;
});

afterAll(async () => {
  if (inspectorEnv) await stopDaemon();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  if (fleet) pkillFleet(fleet.user, 'sleep 98[0-9][0-9]');
  for (const era of ['modern', 'legacy']) rmSync(`${APPROVAL_FILES}-${era}`, { force: true });
  await fleet?.stop();
  if (dir) removeConfig(dir);
});

/** mcpdo's daemon, which this file started (when a stdio case ran): stopped, and its pid made sure of. */
async function stopDaemon(): Promise<void> {
  let pid = NaN;
  try {
    pid = Number(readFileSync(join(inspectorEnv.MCP_INSPECTOR_DAEMON_DIR as string, 'mcpdod.lock'), 'utf8').trim());
  } catch {
    return; // never started
  }
  await inspector('mcpdo', ['daemon', 'stop']).catch(() => undefined);
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  try {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
}

/** Whether the process runs (a zombie, exited but not yet reaped by whoever adopted it, does not). */
function alive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function serveArgs(extra: string[]): string[] {
  return [resolve('dist/cli.js'), 'serve', '--config', join(dir, 'config'), '--policy', join(dir, 'policies'), ...extra];
}

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
  /** The end of the HTTP server's log, for a run against it. */
  serverLog?: string;
}

/** Runs one of the package's binaries (its `bin` entries) on the Inspector's Node, to its end. */
async function inspector(bin: 'mcp-inspector' | 'mcpdo', args: string[]): Promise<Ran> {
  await installInspector();
  const pkg = JSON.parse(readFileSync(join(PACKAGE, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  const child = spawn(NODE, [join(PACKAGE, pkg.bin[bin] as string), ...args], { env: inspectorEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_MS);
  const status = await new Promise<number | null>((r) => {
    child.once('error', (err) => {
      stderr += String(err);
      r(null);
    });
    child.once('close', (code) => r(code));
  });
  clearTimeout(timer);
  return { status, stdout, stderr };
}

type Transport = 'stdio' | 'http';
type Era = 'modern' | 'legacy';
interface Case {
  transport: Transport;
  era: Era;
  marker: string;
}

/**
 * `mcp-inspector --cli` once, on the case's target: over stdio the server command comes first, and
 * everything before `--` is the target (it takes flags); over HTTP the URL, with the token.
 */
async function oneShot(c: Case, args: string[]): Promise<Ran> {
  const target =
    c.transport === 'stdio'
      ? [process.execPath, ...serveArgs([]), '--', '-e', `SSHGATE_STATE_DIR=${join(dir, `state-${c.era}`)}`]
      : [url, '--transport', 'http', '--header', `Authorization: Bearer ${TOKEN}`];
  const r = await inspector('mcp-inspector', ['--cli', ...target, ...args, '--protocol-era', c.era, '--format', 'json']);
  return c.transport === 'http' ? { ...r, serverLog: serverLog.slice(-3000) } : r;
}

/** What a run printed, as JSON; an error with its output (and the HTTP server's log) if it failed. */
function printed<T>(what: string, r: Ran, status = 0): T {
  const log = r.serverLog ? `\n--- serve --http log (end) ---\n${r.serverLog}` : '';
  const tail = `${what}: exit status ${r.status}\n--- stdout ---\n${r.stdout.slice(-3000)}\n--- stderr (end) ---\n${r.stderr.slice(-3000)}${log}`;
  if (r.status !== status) throw new Error(tail);
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`printed no JSON: ${tail}`);
  }
}

interface CallResult {
  content: { type: string; text?: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

/** A tool call of the one-shot CLI: its structuredContent. */
async function callOnce(c: Case, tool: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const r = await oneShot(c, ['--method', 'tools/call', '--tool-name', tool, '--tool-args-json', JSON.stringify(args)]);
  const { result } = printed<{ result: CallResult }>(`tools/call ${tool}`, r);
  return result.structuredContent ?? {};
}

type Call = (tool: string, args: Record<string, unknown>) => Promise<Record<string, unknown>>;

/**
 * How the case makes the calls of one flow: over HTTP a one-shot run each; over stdio through one
 * connection of mcpdo, named in a client config (its `mcpServers` entry) and connected in the era.
 */
async function flowCalls(c: Case): Promise<Call> {
  if (c.transport === 'http') return (tool, args) => callOnce(c, tool, args);
  const name = `sshgate-stdio-${c.era}`;
  const config = join(dir, `${name}.json`);
  const env = { SSHGATE_STATE_DIR: join(dir, `state-mcpdo-${c.era}`) };
  writeFileSync(config, JSON.stringify({ mcpServers: { [name]: { command: process.execPath, args: serveArgs([]), env } } }));
  const shown = printed<{ name: string; protocolEra: string }>(
    `mcpdo connect ${name}`,
    await inspector('mcpdo', ['--format', 'json', '--config', config, 'connect', name, '--era', c.era]),
  );
  expect(shown).toMatchObject({ name, protocolEra: c.era });
  return async (tool, args) => {
    const r = await inspector('mcpdo', ['--format', 'json', `@${name}`, 'tools/call', tool, JSON.stringify(args)]);
    const result = printed<CallResult>(`mcpdo tools/call ${tool}`, r);
    if (result.isError) throw new Error(`${tool} failed: ${JSON.stringify(result.content)}`);
    return result.structuredContent ?? {};
  };
}

const CASES: Case[] = (['stdio', 'http'] as const).flatMap((transport, t) =>
  (['modern', 'legacy'] as const).map((era, e) => ({ transport, era, marker: `98${t}${e}` })),
);

describe.each(CASES)('the MCP Inspector CLI over $transport, --protocol-era $era', { timeout: 4 * RUN_MS }, (c) => {
  it('agrees on the revision: 2026-07-28 in the modern era, the newest handshake in the legacy one', async () => {
    const { result } = printed<{ result: { protocolVersion: string; serverInfo: { name: string } } }>(
      'initialize',
      await oneShot(c, ['--method', 'initialize']),
    );
    expect(result.serverInfo.name).toBe('sshgate');
    expect(result.protocolVersion).toBe(c.era === 'modern' ? '2026-07-28' : '2025-11-25');
  });

  it('lists every tool, with no schema the Inspector finds unportable (--strict)', async () => {
    const { result } = printed<{ result: { tools: { name: string }[] } }>(
      'tools/list',
      await oneShot(c, ['--method', 'tools/list', '--strict']),
    );
    expect(result.tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES]);
  });

  it('runs a command with ssh_run and gets its output', async () => {
    const r = await callOnce(c, 'ssh_run', { alias: 'h1', command: `echo inspector ${c.transport} ${c.era}` });
    expect(r).toMatchObject({ state: 'succeeded', exit_code: 0, stdout: `inspector ${c.transport} ${c.era}\n` });
  });

  it('reads a denied command as isError, with exit status 5 and the policy_denied body', async () => {
    const r = await oneShot(c, [
      '--method',
      'tools/call',
      '--tool-name',
      'ssh_run',
      '--tool-args-json',
      '{"alias":"h1","command":"reboot"}',
    ]);
    const { result } = printed<{ result: CallResult }>('tools/call ssh_run reboot', r, 5);
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toBeUndefined();
    expect(JSON.parse(result.content[0]?.text ?? '{}')).toMatchObject({ code: 'policy_denied', hint: expect.any(String) });
  });

  it("reads an async task's output, cancels it, and its remote process is gone", async () => {
    const call = await flowCalls(c);
    const pattern = `sleep ${c.marker}`;
    const started = await call('ssh_run_async', { alias: 'h1', command: `echo started; ${pattern}` });
    const task_id = started.task_id as string;
    expect(task_id).toMatch(/^h1:[0-9a-f]{12}:\d+$/);
    const out = await call('ssh_get_task_output', { task_id, wait_seconds: 10 });
    expect(out).toMatchObject({ stdout: 'started\n', state: 'running' });
    expect(await presentWithin(fleet.user, pattern)).not.toBe('');
    const cancel = await call('ssh_cancel', { task_id });
    expect(cancel).toMatchObject({ result: 'cancelled', state: 'cancelled', final: true });
    expect(await goneWithin(fleet.user, pattern, 5000)).toBe(true);
  });
});

// mcpdo holds a call that hits an elicitation (prints elicitationPending) until it is answered
// with elicitation/respond, which prints the resumed call's result: a person at a terminal
// approving an ask command, through a client we did not write.
describe.each(['modern', 'legacy'] as const)('mcpdo answering sshgate approval form, --era %s', { timeout: 4 * RUN_MS }, (era) => {
  it('approve:=true runs the command once; --decline denies the next one', async () => {
    const name = `sshgate-approvals-${era}`;
    const config = join(dir, `${name}.json`);
    const env = { SSHGATE_STATE_DIR: join(dir, `state-approvals-${era}`) };
    writeFileSync(config, JSON.stringify({ mcpServers: { [name]: { command: process.execPath, args: serveArgs([]), env } } }));
    printed(`mcpdo connect ${name}`, await inspector('mcpdo', ['--format', 'json', '--config', config, 'connect', name, '--era', era]));
    const file = `${APPROVAL_FILES}-${era}`;
    const command = `echo ran >> ${file}`;
    const runs = () => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0);
    const ask = async () => {
      const r = await inspector('mcpdo', [
        '--format',
        'json',
        `@${name}`,
        'tools/call',
        'ssh_run',
        JSON.stringify({ alias: 'h1', command }),
      ]);
      const { elicitationPending } = printed<{ elicitationPending: { elicitationId: string; message: string; mode: string } }>(
        'mcpdo tools/call ssh_run (an ask command)',
        r,
      );
      expect(elicitationPending).toMatchObject({
        mode: 'form',
        message: expect.stringContaining(`command: ${JSON.stringify(command)}`) as unknown,
      });
      expect(runs()).toBe(ran);
      return elicitationPending.elicitationId;
    };
    let ran = 0;
    const approved = printed<CallResult>(
      'mcpdo elicitation/respond approve:=true',
      await inspector('mcpdo', ['--format', 'json', 'elicitation/respond', await ask(), 'approve:=true']),
    );
    expect(approved.structuredContent).toMatchObject({ state: 'succeeded', exit_code: 0 });
    expect(runs()).toBe(++ran);
    const declined = printed<CallResult>(
      'mcpdo elicitation/respond --decline',
      await inspector('mcpdo', ['--format', 'json', 'elicitation/respond', await ask(), '--decline']),
    );
    expect(declined.structuredContent).toMatchObject({ state: 'denied', error: { code: 'approval_denied' } });
    expect(runs()).toBe(ran);
  });
});
