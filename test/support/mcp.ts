/**
 * sshgate as an agent sees it: a config dir for a fleet (inventory, credentials, key, known_hosts,
 * policy), `node dist/cli.js serve` started over stdio by the MCP SDK's own client, and helpers
 * to call tools and read their results.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { Client, type ClientOptions } from '@modelcontextprotocol/client';
import type { CallToolResult } from '@modelcontextprotocol/client';
import type { TaskStatus } from '../../src/gateway/tool-contract.js';
import type { Fleet } from './sshd.js';

export interface HostSpec {
  alias: string;
  host: string;
  port: number;
  tags?: string[];
  jump?: string;
  /** A credential name; `fleet` (the fleet's own key) by default. */
  credentials?: string;
  /** The login user, instead of the credential's (the fleet's users differ by login shell). */
  user?: string;
  /** servers.yml `shell:`; absent: the default. */
  shell?: 'bash' | 'sh';
}

export interface GateConfig {
  hosts: HostSpec[];
  /** known_hosts text; the fleet's own file by default. */
  knownHosts?: string;
  /** The policy file's text; allow-everything-but-reboot by default. */
  policy?: string;
  /** More credentials.yml entries, as YAML list items. */
  credentials?: string[];
  /** Files to copy into the keys dir: name → source path. */
  keys?: Record<string, string>;
}

export const ALLOW_ALL_POLICY = `
rules:
  - { name: "no reboots", action: deny, commands: ["reboot*", "shutdown*"] }
  - { name: "tests run anything else", action: allow, commands: ["*", "* > *", "* 2>&1", "*$(*)*", "*\${*}*", "*$*", "wait"] }
`;

/**
 * Writes config/ (servers, credentials, keys, known_hosts) and policies/ for the fleet: a real one
 * of sshd.ts, or the login key and known_hosts the in-process tests make for their scripted hosts.
 */
export function writeConfig(fleet: Pick<Fleet, 'user' | 'userKeyPath' | 'knownHostsPath'>, c: GateConfig): string {
  const dir = mkdtempSync(join(tmpdir(), 'sshgate-gate-'));
  const config = join(dir, 'config');
  mkdirSync(join(config, 'keys'), { recursive: true });
  mkdirSync(join(dir, 'policies'));
  copyFileSync(fleet.userKeyPath, join(config, 'keys', 'fleet'));
  const hosts = c.hosts.map(
    (h) =>
      `  - { alias: ${h.alias}, host: "${h.host}", port: ${h.port}, credentials: ${h.credentials ?? 'fleet'}, tags: [${(h.tags ?? ['test']).join(', ')}]${h.jump ? `, jump: ${h.jump}` : ''}${h.user ? `, user: ${h.user}` : ''}${h.shell ? `, shell: ${h.shell}` : ''} }`,
  );
  writeFileSync(join(config, 'servers.yml'), `hosts:\n${hosts.join('\n')}\n`);
  for (const [name, source] of Object.entries(c.keys ?? {})) copyFileSync(source, join(config, 'keys', name));
  const creds = [`{ name: fleet, username: ${fleet.user}, key_path: fleet }`, ...(c.credentials ?? [])];
  writeFileSync(join(config, 'credentials.yml'), `entries:\n${creds.map((e) => `  - ${e}\n`).join('')}`);
  writeFileSync(join(config, 'known_hosts'), c.knownHosts ?? execFileSync('cat', [fleet.knownHostsPath], { encoding: 'utf8' }));
  writeFileSync(join(dir, 'policies', 'test.yml'), c.policy ?? ALLOW_ALL_POLICY);
  return dir;
}

/** How a test calls the tools of a connected client. */
export interface ToolCalls {
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  /** Calls a tool that must succeed and returns its structured result. */
  ok<T = Record<string, unknown>>(name: string, args?: Record<string, unknown>): Promise<T>;
  /** Calls a tool that must fail and returns its error body. */
  fails(name: string, args?: Record<string, unknown>): Promise<{ code: string; message: string; hint?: string }>;
}

/**
 * Polls ssh_get_task_status until the task is in `state`, and returns that status; after about
 * `polls` polls `every` ms apart it throws, naming the state it was last seen in.
 */
export async function taskReaches(
  calls: Pick<ToolCalls, 'ok'>,
  taskId: string,
  state: string,
  o: { polls?: number; every?: number } = {},
): Promise<TaskStatus> {
  let last: TaskStatus | undefined;
  for (let i = 0; i < (o.polls ?? 300); i++) {
    last = await calls.ok<TaskStatus>('ssh_get_task_status', { task_id: taskId });
    if (last.state === state) return last;
    await new Promise((r) => setTimeout(r, o.every ?? 10));
  }
  throw new Error(`task ${taskId} never reached ${state} (is ${last?.state ?? 'unknown'})`);
}

export interface Gate extends ToolCalls {
  client: Client;
  transport: StdioClientTransport;
  dir: string;
  /** Everything the server wrote to stderr so far (its pino log). */
  log(): string;
  close(): Promise<void>;
}

/**
 * The audit records of a server's log that `keep` selects, once there are `count` of them: the log
 * comes over the server's stderr pipe, and a task's end is recorded just after its answer, so
 * the last records may still be on their way when a call returns. After 5 s, what there is.
 */
export async function auditRecords(
  gate: Pick<Gate, 'log'>,
  keep: (record: Record<string, unknown>) => boolean,
  count: number,
): Promise<Record<string, unknown>[]> {
  const read = () =>
    gate
      .log()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => r.audit === true && keep(r));
  let records = read();
  for (let i = 0; i < 50 && records.length < count; i++) {
    await new Promise((r) => setTimeout(r, 100));
    records = read();
  }
  return records;
}

export function toolCalls(client: Client): ToolCalls {
  const call = (name: string, args: Record<string, unknown> = {}) => client.callTool({ name, arguments: args }, { timeout: 120_000 });
  return {
    call,
    async ok<T>(name: string, args?: Record<string, unknown>) {
      const r = await call(name, args);
      if (r.isError) throw new Error(`${name} failed: ${JSON.stringify(r.structuredContent ?? r.content)}`);
      return r.structuredContent as T;
    },
    async fails(name: string, args?: Record<string, unknown>) {
      const r = await call(name, args);
      if (!r.isError) throw new Error(`${name} succeeded: ${JSON.stringify(r.structuredContent)}`);
      return errorBody(r);
    },
  };
}

/**
 * The protocol era the suite's clients speak unless a test asks for another: the stateless
 * 2026-07-28 revision that current clients speak, or with SSHGATE_TEST_ERA=legacy the 2025-era
 * initialize handshake. test/e2e/eras.test.ts runs the main flows in every era either way.
 */
export function defaultEra(): ClientOptions {
  return process.env.SSHGATE_TEST_ERA === 'legacy' ? {} : { versionNegotiation: { mode: { pin: '2026-07-28' } } };
}

/** `dist/cli.js serve` on the config writeConfig wrote in `dir`: what every test server starts with. */
export function serveArgs(dir: string, cli = resolve('dist/cli.js')): string[] {
  return [cli, 'serve', '--config', join(dir, 'config'), '--policy', join(dir, 'policies')];
}

/**
 * `node [nodeArgs] dist/cli.js serve` on the fleet's config; `nodeArgs` are node's own options,
 * `clientOptions` the SDK Client's (the protocol era: defaultEra()), `node` the binary (this one's
 * by default; a benchmark may run the server on another Node), `cli` the build's entry (a
 * benchmark's copy of the build for that Node: bench/server-tree.ts).
 */
export async function startGate(
  dir: string,
  env: Record<string, string> = {},
  nodeArgs: readonly string[] = [],
  clientOptions: ClientOptions = defaultEra(),
  node: string = process.execPath,
  cli?: string,
): Promise<Gate> {
  const transport = new StdioClientTransport({
    command: node,
    args: [...nodeArgs, ...serveArgs(dir, cli)],
    // The SDK adds HOME to the child's environment: without a state dir of its own, every test
    // server would share the journal in ~/.local/state.
    env: { PATH: process.env.PATH ?? '', SSHGATE_LOG_LEVEL: 'info', SSHGATE_STATE_DIR: join(dir, 'state'), ...env },
    stderr: 'pipe',
  });
  let log = '';
  transport.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const client = new Client({ name: 'sshgate-tests', version: '1.0.0' }, clientOptions);
  await client.connect(transport);
  return {
    client,
    transport,
    dir,
    log: () => log,
    ...toolCalls(client),
    async close() {
      await client.close();
    },
  };
}

export function removeConfig(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** The fleet user's processes whose command line matches, as `pgrep -u USER -f` sees them. */
export function pgrep(user: string, pattern: string): string {
  try {
    return execFileSync('pgrep', ['-u', user, '-af', pattern], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

/** Polls until no process of the user matches, or the time is up. */
/** Kills the fleet user's processes matching, if any: what a test's commands may have left. */
export function pkillFleet(user: string, pattern: string): void {
  try {
    execFileSync('pkill', ['-u', user, '-f', pattern]);
  } catch {
    // none left
  }
}

/**
 * The fleet user's processes matching, once there are any (pgrep's lines), or '' after `ms`: a
 * command reported running may still be on its way through sshd on a loaded machine.
 */
export async function presentWithin(user: string, pattern: string, ms = 5000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = pgrep(user, pattern);
    if (found !== '' || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function goneWithin(user: string, pattern: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (pgrep(user, pattern) === '') return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The task's state once it has ended, or the state it is still in after `ms`: a cancel returns at
 * once, and the task ends when its channel has closed and its sweep has finished.
 */
export async function endedWithin(gate: Gate, taskId: string, ms = 5000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { state } = await gate.ok<{ state: string }>('ssh_get_task_status', { task_id: taskId });
    if (!['queued', 'running'].includes(state) || Date.now() > deadline) return state;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The `{ code, message, hint }` of a tool error, from its JSON text. */
export function errorBody(r: CallToolResult): { code: string; message: string; hint?: string } {
  const first = r.content[0];
  if (first?.type !== 'text') throw new Error('a tool error without text');
  return JSON.parse(first.text) as { code: string; message: string; hint?: string };
}
