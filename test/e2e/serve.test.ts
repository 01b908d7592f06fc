import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/commands/dispatch.js';
import {
  auditRecords,
  errorBody,
  goneWithin,
  pgrep,
  removeConfig,
  startGate,
  writeConfig,
  type Gate,
  presentWithin,
} from '../support/mcp.js';
import { closedPort, startFleet, type Fleet } from '../support/sshd.js';
import { TOOL_NAMES } from '../support/tools.js';

interface RunResult {
  task_id: string;
  state: string;
  exit_code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  duration_ms: number;
  error?: { code: string; message: string; hint?: string };
}

/** A TCP listener that accepts and never says a word: a black-holed SSH host. It counts connections. */
class Silent {
  connections = 0;
  private readonly sockets: Socket[] = [];
  readonly server: Server = createServer((s) => {
    this.connections++;
    this.sockets.push(s);
    s.on('error', () => undefined);
  });
  port = 0;
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
  }
  stop(): void {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }
}

let fleet: Fleet;
let gate: Gate;
const silent = new Silent();
let deadPort: number;
beforeAll(async () => {
  fleet = await startFleet(2, { subnet: 63 });
  await silent.start();
  deadPort = await closedPort();
  const hosts = [
    ...fleet.hosts.map((h, i) => ({ ...h, tags: i === 0 ? ['test', 'web'] : ['test'] })),
    { alias: 'silent', host: '127.0.0.1', port: silent.port, tags: ['broken'] },
    { alias: 'dead', host: '127.0.0.1', port: deadPort, tags: ['broken'] },
  ];
  gate = await startGate(writeConfig(fleet, { hosts }));
});
afterAll(async () => {
  await gate?.close();
  silent.stop();
  await fleet?.stop();
  if (gate) removeConfig(gate.dir);
});

describe('the tool list', () => {
  it('offers every tool, each with input and output schemas and all four annotations', async () => {
    const { tools } = await gate.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES]);
    for (const t of tools) {
      expect(t.inputSchema.type).toBe('object');
      expect(t.outputSchema?.type).toBe('object');
      for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const) {
        expect(typeof t.annotations?.[hint], `${t.name} ${hint}`).toBe('boolean');
      }
    }
  });
});

describe('hosts and plans', () => {
  it('logs, once it has listed its tools, which known_hosts file the hosts are checked against', async () => {
    await gate.client.listTools();
    // Logged when the server has loaded what calls need, just after the list has gone out.
    const line = () =>
      gate
        .log()
        .split('\n')
        .find((l) => l.includes('host keys are checked against'));
    for (let i = 0; i < 100 && !line(); i++) await new Promise((r) => setTimeout(r, 100));
    const found = line();
    expect(found && JSON.parse(found)).toMatchObject({ known_hosts: join(gate.dir, 'config', 'known_hosts'), host_key_policy: 'strict' });
  });
  it('lists the hosts, or those with a tag', async () => {
    const all = await gate.ok<{ hosts: { alias: string; tags: string[] }[] }>('ssh_list_hosts');
    expect(all.hosts.map((h) => h.alias)).toEqual(['h1', 'h2', 'silent', 'dead']);
    const web = await gate.ok<{ hosts: { alias: string }[] }>('ssh_list_hosts', { tag: 'web' });
    expect(web.hosts.map((h) => h.alias)).toEqual(['h1']);
  });

  it('describes a host without any secret', async () => {
    const r = await gate.call('ssh_describe_host', { alias: 'h1' });
    expect(r.structuredContent).toMatchObject({
      alias: 'h1',
      host: fleet.hosts[0]?.host,
      user: fleet.user,
      credential: 'fleet',
      auth_methods: ['key'],
      jump_chain: [],
    });
    const key = readFileSync(fleet.userKeyPath, 'utf8');
    const text = JSON.stringify(r);
    expect(text).not.toContain('PRIVATE KEY');
    expect(text).not.toContain(key.split('\n')[1]);
  });

  it('plans a command part by part without running it', async () => {
    const p = await gate.ok<{ allowed: boolean; segments: { text: string; allowed: boolean }[] }>('ssh_plan', {
      alias: 'h1',
      command: 'uptime; reboot',
    });
    expect(p.allowed).toBe(false);
    expect(p.segments.map((s) => [s.text, s.allowed])).toEqual([
      ['uptime', true],
      ['reboot', false],
    ]);
    const t = await gate.ok<{ allowed: boolean; targets: string[] }>('ssh_plan', { tag: 'test', command: 'uptime' });
    expect(t).toMatchObject({ allowed: true, targets: ['h1', 'h2'] });
  });
});

describe('ssh_run', () => {
  it('returns stdout, stderr, exit code, signal and duration', async () => {
    const r = await gate.ok<RunResult>('ssh_run', { alias: 'h1', command: 'echo out; echo err >&2' });
    expect(r).toMatchObject({ state: 'succeeded', exit_code: 0, stdout: 'out\n', stderr: 'err\n', truncated: false });
    // No signal ended it: the field is absent (results leave out what has no value).
    expect(r).not.toHaveProperty('signal');
    expect(r.task_id).toMatch(/^h1:[0-9a-f]{12}:[0-9]+$/);
    expect(r.duration_ms).toBeGreaterThanOrEqual(0);
  });

  it('reports a non-zero exit as a result, not an error', async () => {
    const r = await gate.call('ssh_run', { alias: 'h2', command: 'echo partial; exit 3' });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ state: 'failed', exit_code: 3, stdout: 'partial\n' });
  });

  it('refuses a denied command without connecting anywhere', async () => {
    const before = silent.connections;
    const e = await gate.fails('ssh_run', { alias: 'silent', command: 'uptime; reboot' });
    expect(e.code).toBe('policy_denied');
    expect(e.message).toContain('reboot');
    expect(e.hint).toBeTruthy();
    expect(silent.connections).toBe(before);
  });

  it('cancels a background job and its sibling: no process is left within 3 s', async () => {
    const r = await gate.ok<RunResult>('ssh_run', { alias: 'h1', command: 'sleep 300 & sleep 301; wait', wait_seconds: 0.5 });
    expect(r.state).toBe('running');
    expect(await presentWithin(fleet.user, 'sleep 30[01]')).not.toBe('');
    const c = await gate.ok('ssh_cancel', { task_id: r.task_id });
    // The answer comes once the task has ended: its processes are already gone, its state final.
    expect(pgrep(fleet.user, 'sleep 30[01]( |;|$)')).toBe('');
    expect(c).toMatchObject({ task_id: r.task_id, result: 'cancelled', state: 'cancelled', final: true });
    expect((await gate.ok<{ state: string }>('ssh_get_task_status', { task_id: r.task_id })).state).toBe('cancelled');
    const again = await gate.ok('ssh_cancel', { task_id: r.task_id });
    expect(again).toMatchObject({ result: 'already_finished', state: 'cancelled' });
  });

  it('cancels a pipeline: no process is left within 3 s', async () => {
    const r = await gate.ok<RunResult>('ssh_run', { alias: 'h2', command: 'yes | tail -c 1', wait_seconds: 0.5 });
    expect(r.state).toBe('running');
    expect(await presentWithin(fleet.user, '^yes$')).not.toBe('');
    await gate.ok('ssh_cancel', { task_id: r.task_id });
    expect(await goneWithin(fleet.user, '^yes$|^tail -c 1$', 3000)).toBe(true);
  });

  it('ends a task at its timeout the same way: timed_out, and no process left', async () => {
    const started = Date.now();
    const r = await gate.ok<RunResult>('ssh_run', {
      alias: 'h1',
      command: 'sleep 302 & sleep 303; wait',
      timeout_seconds: 1,
      wait_seconds: 10,
    });
    expect(r.state).toBe('timed_out');
    expect(r.error?.code).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await goneWithin(fleet.user, 'sleep 30[23]', 3000)).toBe(true);
  });
});

describe('hosts that cannot be reached', () => {
  it('reports a port nobody listens on as connect_failed, with a hint', async () => {
    const e = await gate.fails('ssh_run', { alias: 'dead', command: 'uptime', timeout_seconds: 5 });
    expect(e.code).toBe('connect_failed');
    expect(e.message).toContain(`127.0.0.1:${deadPort}`);
    expect(e.hint).toBeTruthy();
  });

  it('gives up on a black-holed host within the task limit while another host runs on', async () => {
    const t0 = Date.now();
    const [stuck, fine] = await Promise.all([
      gate.call('ssh_run', { alias: 'silent', command: 'uptime', timeout_seconds: 2 }).then((r) => ({ r, ms: Date.now() - t0 })),
      gate.call('ssh_run', { alias: 'h2', command: 'sleep 1; echo fine' }).then((r) => ({ r, ms: Date.now() - t0 })),
    ]);
    expect(fine.r.structuredContent).toMatchObject({ state: 'succeeded', stdout: 'fine\n' });
    expect(fine.ms).toBeLessThan(1900);
    expect(stuck.r.isError).toBe(true);
    expect(errorBody(stuck.r).code).toBe('timeout');
    expect(errorBody(stuck.r).message).toContain('silent');
    expect(stuck.ms).toBeLessThan(3500);
  });
});

describe('bad input over MCP', () => {
  const cases: [string, string, Record<string, unknown>, string][] = [
    ['an unknown alias', 'ssh_run', { alias: 'nope', command: 'uptime' }, 'unknown_host'],
    ['an empty command', 'ssh_run', { alias: 'h1', command: '' }, 'invalid_input'],
    ['a blank command', 'ssh_run', { alias: 'h1', command: '  \n ' }, 'invalid_input'],
    ['a 100 kB command', 'ssh_run', { alias: 'h1', command: `echo ${'x'.repeat(100_000)}` }, 'invalid_input'],
    ['a NUL byte', 'ssh_run', { alias: 'h1', command: 'echo a\u0000b' }, 'invalid_input'],
    ['a malformed task id', 'ssh_cancel', { task_id: 'not-a-task' }, 'invalid_input'],
    ['an unknown task id', 'ssh_cancel', { task_id: 'h1:0123456789ab:1700000000000000' }, 'not_found'],
    ['a number for the alias', 'ssh_run', { alias: 42, command: 'uptime' }, 'invalid_input'],
    ['a missing command', 'ssh_run', { alias: 'h1' }, 'invalid_input'],
    ['a string for timeout_seconds', 'ssh_run', { alias: 'h1', command: 'uptime', timeout_seconds: 'soon' }, 'invalid_input'],
    ['an unknown argument', 'ssh_run', { alias: 'h1', command: 'uptime', sudo: true }, 'invalid_input'],
    ['an alias with a newline', 'ssh_describe_host', { alias: 'h1\nh2' }, 'invalid_input'],
    ['both alias and tag', 'ssh_plan', { alias: 'h1', tag: 'test', command: 'uptime' }, 'invalid_input'],
    ['a 200 kB unknown key', 'ssh_list_hosts', { ['k'.repeat(200_000)]: 1 }, 'invalid_input'],
    [
      'a thousand unknown keys',
      'ssh_list_hosts',
      Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`key${i}`, i])),
      'invalid_input',
    ],
  ];
  for (const [what, tool, args, code] of cases) {
    it(`answers ${what} with ${code} and a hint`, async () => {
      const e = await gate.fails(tool, args);
      expect(e.code).toBe(code);
      expect(e.message.length).toBeLessThan(2000);
      expect(e.hint).toBeTruthy();
    });
  }

  /** `sshgate serve` on the example config, spawned directly: its own stdin and stderr. */
  const rawServe = (stateDir: string) => [
    resolve('dist/cli.js'),
    'serve',
    '--config',
    resolve('config'),
    '--policy',
    resolve('policies'),
    '--state-dir',
    join(gate.dir, stateDir),
  ];

  it('logs a line that is not JSON-RPC, writes nothing for it on stdout, and goes on', () => {
    const initialize = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    });
    const r = spawnSync(process.execPath, rawServe('raw-state'), {
      input: `this is not json\n[1,2]\n${initialize}\n`,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.stderr.match(/an MCP message could not be read or handled/g)).toHaveLength(2);
    // stdout is the protocol channel: the one answer is to initialize.
    const answers = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: number; result?: unknown });
    expect(answers).toHaveLength(1);
    expect(answers[0]).toMatchObject({ id: 1, result: expect.anything() });
  });

  it('stops when the SDK gives up a line beyond its read buffer', async () => {
    const child = spawn(process.execPath, rawServe('big-line-state'), { stdio: ['pipe', 'pipe', 'pipe'] });
    let log = '';
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    child.stdin.on('error', () => undefined);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    // No newline, and stdin left open: only the SDK's buffer limit can end this connection.
    child.stdin.write('x'.repeat(10 * 1024 * 1024 + 4096));
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running'), 15_000))]);
    child.kill();
    expect(code).toBe(0);
    expect(log).toContain('ReadBuffer exceeded maximum size');
    expect(log).toMatch(/"why":"the MCP connection closed"/);
  });

  it('keeps serving afterwards', async () => {
    const r = await gate.ok<RunResult>('ssh_run', { alias: 'h1', command: 'echo still here' });
    expect(r.stdout).toBe('still here\n');
  });
});

describe('the audit log', () => {
  it('records every decision and every task end on stderr, and no secret', async () => {
    await gate.ok('ssh_run', { alias: 'h2', command: 'echo audited' });
    const records = await auditRecords(gate, (r) => r.command === 'echo audited', 2);
    expect(records.map((r) => r.event)).toEqual(['decision', 'task_end']);
    expect(records[0]).toMatchObject({ alias: 'h2', allowed: true, command_hash: expect.stringMatching(/^[0-9a-f]{12}$/) });
    expect(records[1]).toMatchObject({ alias: 'h2', state: 'succeeded', exit_code: 0, stdout_bytes: 8, stderr_bytes: 0 });
    expect(records[1]?.duration_ms).toBeTypeOf('number');
    const denied = gate.log().includes('"event":"decision"') && gate.log().includes('"allowed":false');
    expect(denied).toBe(true);
    expect(gate.log()).not.toContain('PRIVATE KEY');
  });
});

describe('the audit file', () => {
  it('gets a hash-chained record of every decision and task end, which sshgate audit verify accepts', async () => {
    const path = join(gate.dir, 'audit.jsonl');
    const g = await startGate(gate.dir, { SSHGATE_AUDIT_LOG: path });
    try {
      await g.ok('ssh_run', { alias: 'h1', command: 'echo chained' });
      await g.fails('ssh_run', { alias: 'h1', command: 'reboot' });
    } finally {
      await g.close();
    }
    const records = readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => [r.event, r.command])).toEqual([
      ['decision', 'echo chained'],
      ['task_end', 'echo chained'],
      ['decision', 'reboot'],
    ]);
    let out = '';
    const code = await runCli(['audit', 'verify', path], {}, { out: (t) => (out += t), err: (t) => (out += t) });
    expect(code).toBe(0);
    expect(out).toContain('3 records, chain intact');
  });
});

describe('the state dir', () => {
  it('refuses to serve from a state dir that others can write, and says what to run', () => {
    const state = join(gate.dir, 'open-state');
    mkdirSync(state);
    chmodSync(state, 0o777);
    const r = spawnSync(
      process.execPath,
      [resolve('dist/cli.js'), 'serve', '--config', join(gate.dir, 'config'), '--policy', join(gate.dir, 'policies'), '--state-dir', state],
      {
        input: '',
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`sshgate: the state dir ${state} can be written by its group and others (mode 0777)`);
    expect(r.stderr).toContain(`hint: chmod go-w ${state}`);
  });
});

describe('ssh_reload_config', () => {
  it('keeps the old configuration when a file is bad, and swaps in a good one', async () => {
    const servers = join(gate.dir, 'config', 'servers.yml');
    const good = readFileSync(servers, 'utf8');
    writeFileSync(servers, `${good}  - { alias: broken, host: "::nope::", credentials: fleet }\n`);
    const e = await gate.fails('ssh_reload_config');
    expect(e.code).toBe('invalid_config');
    expect(e.message).toContain('servers.yml');
    expect((await gate.ok<{ hosts: unknown[] }>('ssh_list_hosts')).hosts).toHaveLength(4);
    writeFileSync(
      servers,
      `${good}  - { alias: h1-again, host: "${fleet.hosts[0]?.host}", port: ${fleet.hosts[0]?.port}, credentials: fleet }\n`,
    );
    const r = await gate.ok('ssh_reload_config');
    expect(r).toMatchObject({ reloaded: true, hosts: 5, host_key_policy: 'strict' });
    const run = await gate.ok<RunResult>('ssh_run', { alias: 'h1-again', command: 'echo new host' });
    expect(run.stdout).toBe('new host\n');
    writeFileSync(servers, good);
    await gate.ok('ssh_reload_config');
  });
});

describe('ssh_ping', () => {
  it('really connects, and says why a host cannot be reached', async () => {
    const up = await gate.ok<{ reachable: boolean; latency_ms: number }>('ssh_ping', { alias: 'h1' });
    expect(up.reachable).toBe(true);
    expect(up.latency_ms).toBeGreaterThan(0);
    const down = await gate.ok<{ reachable: boolean; error: { code: string } }>('ssh_ping', { alias: 'dead' });
    expect(down).toMatchObject({ reachable: false, error: { code: 'connect_failed' } });
  });
});
