/**
 * Interop with a client we did not write: the official MCP Python SDK (test/interop/python/, pinned
 * in its requirements.txt and installed into .venv-interop/ by its setup.sh). Its drivers connect
 * over stdio — starting `node dist/cli.js serve` as a client config names it — and over Streamable
 * HTTP to a running `serve --http`: at the protocol version the SDK negotiates by default (the
 * stateless 2026-07-28 revision), with the initialize handshake at its newest 2025-era version, and
 * offering the oldest one it speaks; they print what they saw as JSON, asserted on here.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLOW_ALL_POLICY, goneWithin, pgrep, removeConfig, writeConfig } from '../support/mcp.js';
import { startFleet, type Fleet } from '../support/sshd.js';
import { TOOL_NAMES } from '../support/tools.js';

const PYTHON = resolve('.venv-interop/bin/python');
/** What approvals.py's commands append to (one line a run), and the ask rule that holds them for the client's user. */
const APPROVAL_FILES = '/tmp/sshgate-interop-approvals';
const APPROVAL_RULE = `  - { name: "approved in the client", action: ask, approve_by: client, commands: ["echo ran >> ${APPROVAL_FILES}-*"] }\n`;
const APPROVAL_MARKERS = ['581', '582', '583', '584'];
/** Where all_tools.py's file tools write (the hosts are this machine), and the files: rule that lets them. */
const FILES_DIR = `/tmp/sshgate-interop-files-${process.pid}`;
/** The server's transfer root (ssh_put_file sends its payload.txt; ssh_get_file brings files back into it). */
const TRANSFER_ROOT = `/tmp/sshgate-interop-root-${process.pid}`;
const PAYLOAD = 'transferred by the Python SDK\n';
const FILES_RULE = `files:\n  - { name: "interop files", action: allow, read: ["${FILES_DIR}", "${FILES_DIR}/*"], write: ["${FILES_DIR}/*"] }\n`;
const DRIVERS = resolve('test/interop/python');
/** The oldest protocol version the SDK offers in an `initialize` handshake. */
const OLDEST = '2024-11-05';
/** A driver may take this long on a busy machine; none is expected to come near it. */
const DRIVER_MS = 240_000;

let fleet: Fleet;
let dir: string;
let server: ChildProcess;
let url: string;
let serverLog = '';

beforeAll(async () => {
  fleet = await startFleet(2, { subnet: 83 });
  dir = writeConfig(fleet, {
    hosts: fleet.hosts.map((h) => ({ ...h, tags: ['test', h.alias === 'h1' ? 'first' : 'second'] })),
    policy: `${ALLOW_ALL_POLICY}${APPROVAL_RULE}${FILES_RULE}`,
  });
  mkdirSync(FILES_DIR, { recursive: true });
  mkdirSync(TRANSFER_ROOT, { recursive: true, mode: 0o700 });
  writeFileSync(join(TRANSFER_ROOT, 'payload.txt'), PAYLOAD);
  // Over HTTP the token's principal ("http") works in a directory of its own under the root.
  mkdirSync(join(TRANSFER_ROOT, 'http'), { mode: 0o700 });
  writeFileSync(join(TRANSFER_ROOT, 'http', 'payload.txt'), PAYLOAD);
  chownSync(FILES_DIR, loginUid(fleet.user), loginUid(fleet.user));
  writeFileSync(join(dir, 'token'), randomBytes(24).toString('hex'), { mode: 0o600 });
  server = spawn(process.execPath, serveArgs(['--http', '127.0.0.1:0', '--token-file', join(dir, 'token')]), {
    env: { PATH: process.env.PATH ?? '', SSHGATE_STATE_DIR: join(dir, 'state-http') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  server.stderr?.on('data', (d: Buffer) => (serverLog += d.toString()));
  for (let i = 0; i < 600 && !/"port":(\d+)/.test(serverLog); i++) await new Promise((r) => setTimeout(r, 50));
  const port = Number(/"port":(\d+)/.exec(serverLog)?.[1]);
  if (!(port > 0)) throw new Error(`serve --http did not start:\n${serverLog}`);
  url = `http://127.0.0.1:${port}/mcp`;
});

afterAll(async () => {
  for (const m of APPROVAL_MARKERS) for (const k of ['accept', 'decline']) rmSync(`${APPROVAL_FILES}-${m}-${k}`, { force: true });
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  await fleet?.stop();
  if (dir) removeConfig(dir);
  rmSync(FILES_DIR, { recursive: true, force: true });
  rmSync(TRANSFER_ROOT, { recursive: true, force: true });
});

function loginUid(user: string): number {
  return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
}

function serveArgs(extra: string[]): string[] {
  return [
    resolve('dist/cli.js'),
    'serve',
    '--config',
    join(dir, 'config'),
    '--policy',
    join(dir, 'policies'),
    '--transfer-root',
    TRANSFER_ROOT,
    ...extra,
  ];
}

type Transport = 'stdio' | 'http';

/** How a driver reaches the server: stdio as a client config's `mcpServers` entry, or the URL. */
function connectArgs(transport: Transport, state: string): string[] {
  if (transport === 'http') return ['--http', url, '--token-file', join(dir, 'token')];
  const entry = { command: process.execPath, args: serveArgs([]), env: { SSHGATE_STATE_DIR: join(dir, state), SSHGATE_LOG_LEVEL: 'info' } };
  return ['--stdio', JSON.stringify(entry)];
}

let installed: Promise<void> | undefined;
/**
 * Makes .venv-interop/ when it is missing or out of date (.ci/run has made it already), once per
 * run. A failed install fails every test that needs the SDK, with setup.sh's account of why: the
 * tests are never skipped for it.
 */
function installSdk(): Promise<void> {
  installed ??= new Promise((resolveP, reject) => {
    const setup = spawn('bash', [join(DRIVERS, 'setup.sh')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    setup.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    setup.once('error', reject);
    setup.once('exit', (code) =>
      code === 0
        ? resolveP()
        : reject(new Error(`the MCP Python SDK could not be installed (test/interop/python/setup.sh exited with ${code}):\n${stderr}`)),
    );
  });
  return installed;
}

/** Runs a Python driver to its end; its JSON summary, or an error carrying its stderr. */
async function drive<T>(script: string, args: string[]): Promise<T & { fatal?: string }> {
  await installSdk();
  const child = spawn(PYTHON, [join(DRIVERS, script), '--fleet-user', fleet.user, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), DRIVER_MS);
  const status = await new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  clearTimeout(timer);
  const serveLog = args.includes('--http') ? `\n--- serve --http log (end) ---\n${serverLog.slice(-3000)}` : '';
  const tail = `\n--- ${script} stderr (end) ---\n${stderr.slice(-4000)}${serveLog}`;
  let summary: T & { fatal?: string };
  try {
    summary = JSON.parse(stdout.trim().split('\n').pop() ?? '') as T & { fatal?: string };
  } catch {
    throw new Error(`${script} ${args.join(' ')} printed no summary (exit status ${status}):\n${stdout.slice(-2000)}${tail}`);
  }
  if (summary.fatal !== undefined) throw new Error(`${script} failed: ${summary.fatal}${tail}`);
  return summary;
}

type Result = Record<string, unknown>;
interface ToolError {
  body: { code: string; message: string; hint?: string };
  has_structured_content: boolean;
}
interface AllTools {
  transport: Transport;
  protocol_requested: string;
  protocol: string;
  era: 'handshake' | 'modern';
  tools: string[];
  annotations: Record<string, Record<string, unknown> | null>;
  results: Record<string, Result>;
  errors: Record<string, ToolError>;
  progress: { result: Result; notifications: { progress: number; total: number | null; message: string | null }[] };
  cancel: {
    pattern: string;
    call: string;
    task_id: string | null;
    present_before_cancel: boolean;
    state_after: string;
    status_after: Result;
    gone_while_connected: boolean;
    progress_messages: string[];
  };
  schema_checked: Record<string, number>;
  problems: string[];
}

const CASES: { transport: Transport; protocol: string; marker: string }[] = [
  { transport: 'stdio', protocol: 'sdk', marker: '571' },
  { transport: 'stdio', protocol: 'legacy', marker: '572' },
  { transport: 'stdio', protocol: OLDEST, marker: '573' },
  { transport: 'http', protocol: 'sdk', marker: '575' },
  { transport: 'http', protocol: 'legacy', marker: '576' },
  { transport: 'http', protocol: OLDEST, marker: '577' },
];

describe.each(CASES)('the MCP Python SDK over $transport, protocol: $protocol', ({ transport, protocol, marker }) => {
  let summary: Promise<AllTools> | undefined;
  /** A test of what the driver saw. The first one runs it; if it fails, every test fails with it. */
  const saw = (name: string, check: (s: AllTools) => unknown) =>
    it(
      name,
      async () => {
        summary ??= drive<AllTools>('all_tools.py', [
          ...connectArgs(transport, `state-${transport}-${protocol}`),
          '--protocol',
          protocol,
          '--marker',
          marker,
          '--files-dir',
          FILES_DIR,
        ]);
        await check(await summary);
      },
      DRIVER_MS + 10_000,
    );

  // By default the SDK probes server/discover and, sshgate speaking it, stays in the stateless
  // 2026-07-28 era; in legacy mode it shakes hands at its newest 2025-era version.
  saw('agrees on a protocol version: 2026-07-28 by default, the newest handshake in legacy mode, else the one offered', (s) => {
    expect(s.transport).toBe(transport);
    expect(s.era).toBe(protocol === 'sdk' ? 'modern' : 'handshake');
    expect(s.protocol).toBe(protocol === 'sdk' ? '2026-07-28' : protocol === 'legacy' ? '2025-11-25' : protocol);
  });

  saw('lists every tool, each with an outputSchema and all four annotations', (s) => {
    expect(s.tools).toEqual(TOOL_NAMES);
    for (const name of TOOL_NAMES) {
      expect(Object.keys(s.annotations[name] ?? {}), name).toEqual(
        expect.arrayContaining(['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint']),
      );
    }
  });

  saw("gets from every tool a structuredContent that matches the tool's outputSchema", (s) => {
    expect(s.problems).toEqual([]);
    expect(Object.keys(s.schema_checked).sort()).toEqual(TOOL_NAMES);
  });

  saw('reads the inventory and plans without running anything', (s) => {
    const r = s.results;
    expect((r.ssh_list_hosts?.hosts as { alias: string }[]).map((h) => h.alias)).toEqual(['h1', 'h2']);
    expect(r.ssh_describe_host).toMatchObject({
      alias: 'h1',
      host: fleet.hosts[0]?.host,
      port: fleet.hosts[0]?.port,
      user: fleet.user,
      tags: ['test', 'first'],
    });
    expect(r.ssh_plan).toMatchObject({ allowed: false });
    expect(JSON.stringify(r.ssh_plan)).toContain('no reboots');
    expect(r.ssh_plan_tag).toMatchObject({ allowed: true, targets: ['h1', 'h2'] });
  });

  saw('runs a command: a non-zero exit is a result with its output, not an error', (s) => {
    expect(s.results.ssh_run).toMatchObject({ state: 'failed', exit_code: 3, stdout: 'interop\n', stderr: 'oops\n', truncated: false });
    expect(s.results.ssh_run?.signal ?? null).toBeNull();
  });

  saw('runs async and reads the output by cursor, every byte once, then the status and the task list', (s) => {
    const r = s.results;
    const id = r.ssh_run_async?.task_id as string;
    expect(id).toMatch(/^h1:[0-9a-f]{12}:\d+$/);
    expect(r.ssh_get_task_output).toMatchObject({ stdout: 'async one\nasync two\n', stderr: '', last: { done: true, state: 'succeeded' } });
    expect(r.ssh_get_task_status).toMatchObject({ task_id: id, state: 'succeeded', exit_code: 0, stdout_bytes: 20 });
    expect((r.ssh_list_tasks?.tasks as { task_id: string }[]).map((t) => t.task_id)).toContain(id);
  });

  saw('fans out to every host with the tag', (s) => {
    const fanned = s.results.ssh_run_on_tag as {
      tag: string;
      results: { alias: string; status: string; stdout: string }[];
      summary: Result;
    };
    expect(fanned.summary).toEqual({ total: 2, succeeded: 2, failed: 0, denied: 0, running: 0 });
    expect(fanned.results.map((h) => [h.alias, h.status, h.stdout]).sort()).toEqual([
      ['h1', 'succeeded', 'on tag\n'],
      ['h2', 'succeeded', 'on tag\n'],
    ]);
  });

  saw('cancels a task with ssh_cancel: it answers once the task has ended, and its process is gone', (s) => {
    expect(s.results.ssh_cancel).toMatchObject({ result: 'cancelled', state: 'cancelled', final: true });
    expect(s.results.ssh_cancel_processes).toEqual({ pattern: `sleep ${marker}2`, present_before: true, gone_after: true });
  });

  saw('reloads the configuration and pings one host and all', (s) => {
    expect(s.results.ssh_reload_config).toMatchObject({ reloaded: true, hosts: 2 });
    expect(s.results.ssh_ping).toMatchObject({ alias: 'h1', reachable: true });
    expect(s.results.ssh_ping_all).toMatchObject({ alias: '*', reachable: true });
    expect((s.results.ssh_ping_all?.hosts as { reachable: boolean }[]).map((h) => h.reachable)).toEqual([true, true]);
  });

  saw('writes, reads, edits and lists files, with checksums that agree', (s) => {
    const r = s.results;
    const path = `${FILES_DIR}/${marker}.conf`;
    expect(r.ssh_write_file).toMatchObject({ path, created: true, after: { size: 11 } });
    expect(r.ssh_read_file).toMatchObject({ path, content: 'listen 80;\n', encoding: 'utf8', eof: true });
    expect((r.ssh_read_file as { sha256: string }).sha256).toBe((r.ssh_write_file as { after: { sha256: string } }).after.sha256);
    expect(r.ssh_edit_file).toMatchObject({ replaced: 1, created: false });
    expect(r.ssh_edit_file?.diff).toContain('-listen 80;\n+listen 8080;\n');
    expect(readFileSync(path, 'utf8')).toBe('listen 8080;\n');
    expect((r.ssh_list_dir?.entries as { name: string }[]).map((e) => e.name)).toContain(`${marker}.conf`);
  });

  saw('puts a file of the transfer root on the host and gets it back, verified at both ends', (s) => {
    const digest = createHash('sha256').update(PAYLOAD).digest('hex');
    expect(s.results.ssh_put_file).toMatchObject({ state: 'succeeded', size: PAYLOAD.length, sha256: digest, verified_by: 'openssl' });
    expect(s.results.ssh_get_file).toMatchObject({ state: 'succeeded', size: PAYLOAD.length, sha256: digest });
    expect(readFileSync(`${FILES_DIR}/${marker}-sent.txt`, 'utf8')).toBe(PAYLOAD);
    expect(readFileSync(join(TRANSFER_ROOT, ...(transport === 'http' ? ['http'] : []), `back-${marker}.txt`), 'utf8')).toBe(PAYLOAD);
  });

  saw('reads a tool error as isError with { code, message, hint } in its text and no structuredContent', (s) => {
    for (const [code, error] of Object.entries(s.errors)) {
      expect(error.body.code, code).toBe(code);
      expect(error.body.message, code).toEqual(expect.any(String));
      expect(error.body.hint, code).toEqual(expect.any(String));
      expect(error.has_structured_content, code).toBe(false);
    }
    expect(Object.keys(s.errors).sort()).toEqual(['invalid_input', 'not_found', 'policy_denied', 'unknown_host']);
    expect(s.errors.invalid_input?.body.message).toContain('bogus');
  });

  saw('receives progress notifications for an ssh_run called with a progress token, the task id first', (s) => {
    const { result, notifications } = s.progress;
    expect(result).toMatchObject({ state: 'succeeded', stdout: 'tick 1\ntick 2\n' });
    expect(notifications[0]?.message).toBe(`task_id ${String(result.task_id)}`);
    const values = notifications.map((n) => n.progress);
    expect(values).toEqual([...values].sort((a, b) => a - b));
  });

  saw('cancels an in-flight ssh_run when the client abandons the call: the task ends cancelled, its process gone', async (s) => {
    const c = s.cancel;
    expect(c.call).toBe('cancelled by the client');
    expect(c.progress_messages[0]).toMatch(/^task_id h1:/);
    expect(c.progress_messages.join('')).toContain('started');
    expect(c.present_before_cancel).toBe(true);
    expect(c.state_after).toBe('cancelled');
    expect(c.status_after).toMatchObject({ task_id: c.task_id, state: 'cancelled' });
    expect(c.gone_while_connected).toBe(true);
    expect(await goneWithin(fleet.user, c.pattern, 5000)).toBe(true);
  });
});

interface BigResult {
  transport: Transport;
  allowed: boolean;
  is_error: boolean;
  error: unknown;
  message_bytes: number;
  stdout_chars: number;
  fields: Record<string, unknown>;
  problems: string[];
}

// Results sized for a model: an ssh_run result shows a bounded part of its output, says how much
// there was and where ssh_get_task_output reads on, and no message passes 512 KiB (the SDK's SSE
// reader refuses an event over 1 MiB). The message size is measured as big_result.py says.
describe('a 50 MB ssh_run result, as the MCP Python SDK receives it', () => {
  it.each(['stdio', 'http'] as const)(
    'arrives budgeted over %s: a bounded stdout, the byte counts, what was omitted and a cursor to read on',
    async (transport) => {
      const s = await drive<BigResult>('big_result.py', connectArgs(transport, `state-big-${transport}`));
      expect(s.allowed).toBe(true);
      expect(s.is_error, JSON.stringify(s.error)).toBe(false);
      expect(s.problems).toEqual([]);
      expect(s.stdout_chars).toBeLessThanOrEqual(70_000);
      expect(s.fields).toMatchObject({ state: 'succeeded', stdout_bytes: 50_000_000 });
      expect((s.fields.omitted_bytes as { stdout?: number } | undefined)?.stdout).toBeGreaterThan(0);
      expect(s.fields.read_cursor).toEqual({ stdout: expect.any(Number), stderr: expect.any(Number) });
      expect(s.message_bytes).toBeLessThan(512 * 1024);
      expect(pgrep(fleet.user, 'head -c 50000000')).toBe('');
    },
    DRIVER_MS + 10_000,
  );
});

interface TasksExtension {
  protocol: string;
  era: 'handshake' | 'modern';
  extensions: Record<string, unknown> | null;
  run: {
    structured: Result;
    is_error: boolean;
    handles: { tool: string; task_id: string; status: string; ttl_ms: number }[];
    polls: number;
  };
  cancel: { task_id: string; status: string; present_before_cancel: boolean; gone_after_cancel: boolean; status_after: string };
  unknown_id_code: number | null;
  undeclared_code: number | null;
}

// The Tasks extension (docs/tools.md) as the SDK's client-extension hook drives it: a ResultClaim
// of resultType "task" that polls tasks/get, as an application would write it (tasks_extension.py).
describe('the Tasks extension, driven by the MCP Python SDK', () => {
  it.each([
    ['stdio', '1'],
    ['http', '2'],
  ] as const)(
    'over %s: runs ssh_run as a task to its result, cancels one with its process gone, and refuses a client without it',
    async (transport, n) => {
      const marker = `5${n}`;
      const s = await drive<TasksExtension>('tasks_extension.py', [
        ...connectArgs(transport, `state-tasks-${transport}`),
        '--marker',
        marker,
      ]);
      expect(s).toMatchObject({ protocol: '2026-07-28', era: 'modern', extensions: { 'io.modelcontextprotocol/tasks': {} } });
      expect(s.run.is_error).toBe(false);
      expect(s.run.structured).toMatchObject({ state: 'succeeded', stdout: `tasks ${marker}\n` });
      expect(s.run.handles).toEqual([
        { tool: 'ssh_run', task_id: s.run.structured.task_id, status: 'working', ttl_ms: expect.any(Number) },
      ]);
      expect(s.cancel).toMatchObject({
        status: 'working',
        present_before_cancel: true,
        gone_after_cancel: true,
        status_after: 'cancelled',
      });
      expect(pgrep(fleet.user, `sleep 97${marker}`)).toBe('');
      expect(s.unknown_id_code).toBe(-32602);
      expect(s.undeclared_code).toBe(-32021);
    },
    DRIVER_MS + 10_000,
  );
});

interface Approvals {
  protocol: string;
  era: 'handshake' | 'modern';
  accepted: { state: string; exit_code: number | null; error_code: string | null; approval_id: string | null }[];
  asked_after_accept: number;
  declined: { state: string; error_code: string | null };
  asked: number;
  shown: { message: string; required: string[] | null }[];
  problems: string[];
}

/** How many times the host appended to the file: the number of runs. */
const runs = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0);

// An ask command approved by the user of a client we did not write: the SDK's elicitation_callback
// answers sshgate's form, pushed as elicitation/create (2025-11-25) or embedded in an
// input_required result that the SDK's Client fulfils and retries (2026-07-28).
describe('ask commands approved through the MCP Python SDK', () => {
  it.each([
    ['stdio', 'sdk', '581'],
    ['stdio', 'legacy', '582'],
    ['http', 'sdk', '583'],
    ['http', 'legacy', '584'],
  ] as const)(
    'over %s, protocol %s: accepted runs once and the next call asks again; declined is denied',
    async (transport, protocol, marker) => {
      const s = await drive<Approvals>('approvals.py', [
        ...connectArgs(transport, `state-approvals-${transport}-${protocol}`),
        '--protocol',
        protocol,
        '--marker',
        marker,
      ]);
      expect(s.era).toBe(protocol === 'sdk' ? 'modern' : 'handshake');
      expect(s.problems).toEqual([]);
      expect(s.accepted.map((r) => r.state)).toEqual(['succeeded', 'succeeded']);
      expect(s.accepted[0]?.approval_id).not.toBe(s.accepted[1]?.approval_id);
      expect(s.asked_after_accept).toBe(2);
      expect(runs(`${APPROVAL_FILES}-${marker}-accept`)).toBe(2);
      expect(s.declined).toMatchObject({ state: 'denied', error_code: 'approval_denied' });
      expect(runs(`${APPROVAL_FILES}-${marker}-decline`)).toBe(0);
      expect(s.asked).toBe(3);
      expect(s.shown[0]?.message).toContain(`command: ${JSON.stringify(`echo ran >> ${APPROVAL_FILES}-${marker}-accept`)}`);
      expect(s.shown[0]?.required).toEqual(['approve']);
    },
    DRIVER_MS + 10_000,
  );
});
