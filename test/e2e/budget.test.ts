/**
 * Results sized for a model's context: ssh_run and ssh_run_on_tag show a budget of output inline
 * (head and tail), the rest stays readable by cursor, and no message sshgate sends is larger than
 * 512 KiB, whatever the bytes are (JSON escaping of control bytes costs up to 13 bytes each).
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLOW_ALL_POLICY, removeConfig, startGate, writeConfig, type Gate } from '../support/mcp.js';
import { startFleet, type Fleet } from '../support/sshd.js';

const LIMIT = 512 * 1024;

interface Run {
  task_id: string;
  state: string;
  stdout: string;
  stderr: string;
  stdout_bytes: number;
  stderr_bytes: number;
  omitted_bytes: { stdout: number; stderr: number };
  read_cursor: { stdout: number; stderr: number };
  limits: { max_seconds: number; max_output_bytes: number };
}

let fleet: Fleet;
let gate: Gate;
let dir: string;

beforeAll(async () => {
  fleet = await startFleet(40, { subnet: 81 });
  dir = writeConfig(fleet, {
    hosts: fleet.hosts.map((h, i) => ({ ...h, tags: i === 0 ? ['one', 'many'] : ['many'] })),
    policy: `${ALLOW_ALL_POLICY}  - { name: "shell code", action: allow, commands: ["sh -c *"] }\n`,
  });
  gate = await startGate(dir);
}, 60_000);
afterAll(async () => {
  await gate?.close();
  await fleet?.stop();
  if (dir) removeConfig(dir);
});

/** The size of the JSON-RPC message that carried the result. */
function messageSize(r: CallToolResult): number {
  return Buffer.byteLength(JSON.stringify({ jsonrpc: '2.0', id: 1, result: r }));
}

async function call<T>(name: string, args: Record<string, unknown>): Promise<{ value: T; size: number }> {
  const r = await gate.call(name, args);
  if (r.isError) throw new Error(`${name} failed: ${JSON.stringify(r.content)}`);
  return { value: r.structuredContent as T, size: messageSize(r) };
}

describe('ssh_run', () => {
  it('shows 16 KiB of a 50 MB output, head and tail, and says how to read the rest', async () => {
    const { value: r, size } = await call<Run>('ssh_run', {
      alias: fleet.hosts[0]?.alias,
      command: "head -c 50000000 /dev/zero | tr '\\0' x",
    });
    expect(r.state).toBe('succeeded');
    expect(r.stdout_bytes).toBe(50_000_000);
    expect(r.stdout.startsWith('x'.repeat(8192) + '\n[… ')).toBe(true);
    expect(r.stdout.endsWith(' …]\n' + 'x'.repeat(8192))).toBe(true);
    expect(r.omitted_bytes.stdout).toBe(50_000_000 - 16_384);
    expect(r.stdout).toContain('of them no longer kept');
    expect(r.read_cursor).toEqual({ stdout: 8192, stderr: 0 });
    expect(size).toBeLessThan(24_000 * 2 + 4096);
    // The rest is readable from the cursor: the kept head goes on where the result stopped.
    const { value: o } = await call<{ stdout: string; next_cursor: { stdout: number } }>('ssh_get_task_output', {
      task_id: r.task_id,
      cursor: r.read_cursor,
      max_bytes: 1000,
    });
    expect(o.stdout).toBe('x'.repeat(1000));
    expect(o.next_cursor.stdout).toBe(9192);
  });

  it('reports the limits the task ran under: the policy max_seconds shortened by timeout_seconds', async () => {
    const { value: r } = await call<Run>('ssh_run', { alias: fleet.hosts[0]?.alias, command: 'true', timeout_seconds: 7 });
    expect(r.limits).toMatchObject({ max_seconds: 7, max_output_bytes: 1_048_576 });
  });

  it('keeps a message of control bytes under 512 KiB, with max_bytes at its most', async () => {
    // A NUL costs 13 bytes in the message: 64 KiB of them per stream would be 1.7 MB.
    const command = "sh -c 'head -c 300000 /dev/zero; head -c 300000 /dev/zero >&2'";
    const { value: r, size } = await call<Run>('ssh_run', { alias: fleet.hosts[1]?.alias, command, max_bytes: 65_536 });
    expect(size).toBeLessThanOrEqual(LIMIT);
    expect(r.stdout_bytes).toBe(300_000);
    expect(r.omitted_bytes.stdout).toBeGreaterThan(300_000 - 65_536);
    expect(r.stdout).toContain('\0\0\0');
  });

  it('shows only the marker with max_bytes 0', async () => {
    const { value: r } = await call<Run>('ssh_run', { alias: fleet.hosts[2]?.alias, command: 'seq 1000', max_bytes: 0 });
    expect(r.stdout).toBe('\n[… 3893 bytes not shown; ssh_get_task_output from read_cursor reads them …]\n');
    expect(r.read_cursor.stdout).toBe(0);
  });
});

describe('ssh_get_task_output', () => {
  it('never answers with more than 512 KiB, and every kept byte still comes once by cursor', async () => {
    const command = "sh -c 'head -c 2000000 /dev/zero; head -c 2000000 /dev/zero >&2'";
    const { value: r } = await call<Run>('ssh_run', { alias: fleet.hosts[3]?.alias, command });
    expect(r.state).toBe('succeeded');
    let cursor = { stdout: 0, stderr: 0 };
    let kept = 0;
    let dropped = 0;
    let biggest = 0;
    for (let i = 0; i < 200; i++) {
      const { value: o, size } = await call<{
        stdout: string;
        stderr: string;
        next_cursor: typeof cursor;
        done: boolean;
        dropped_bytes: typeof cursor;
      }>('ssh_get_task_output', { task_id: r.task_id, cursor, max_bytes: 131_072 });
      biggest = Math.max(biggest, size);
      kept += o.stdout.length + o.stderr.length;
      dropped += o.dropped_bytes.stdout + o.dropped_bytes.stderr;
      cursor = o.next_cursor;
      if (o.done) break;
    }
    expect(biggest).toBeLessThanOrEqual(LIMIT);
    expect(biggest).toBeGreaterThan(LIMIT * 0.8);
    expect(kept + dropped).toBe(4_000_000);
    expect(kept).toBe(2 * 1_048_576);
  });

  it('refuses a per-call maximum above 131072 bytes', async () => {
    const { value: r } = await call<Run>('ssh_run', { alias: fleet.hosts[3]?.alias, command: 'true' });
    const e = await gate.fails('ssh_get_task_output', { task_id: r.task_id, max_bytes: 1_048_576 });
    expect(e.code).toBe('invalid_input');
  });
});

describe('ssh_list_tasks', () => {
  it('stays one message with a thousand tasks of 16 KiB commands: commands are cut, the oldest counted', async () => {
    const long = `true ${'x'.repeat(16_000)}`;
    for (let i = 0; i < 30; i++) await call('ssh_run_async', { alias: fleet.hosts[4]?.alias, command: `${long}${i}` });
    const { value, size } = await call<{ tasks: { command: string }[]; omitted_tasks?: number }>('ssh_list_tasks', { limit: 1000 });
    expect(size).toBeLessThanOrEqual(LIMIT);
    expect(value.tasks[0]?.command).toMatch(/… \(\d+ more characters\)$/);
  });
});

describe('ssh_run_on_tag', () => {
  it('stays under 512 KiB over 40 hosts of control bytes, sharing the output budget out', async () => {
    const command = "sh -c 'head -c 100000 /dev/zero; head -c 100000 /dev/zero >&2'";
    const { value: r, size } = await call<{ results: Run[]; summary: { total: number; succeeded: number }; omitted_hosts?: number }>(
      'ssh_run_on_tag',
      {
        tag: 'many',
        command,
        max_bytes: 65_536,
      },
    );
    expect(r.summary).toMatchObject({ total: 40, succeeded: 40 });
    expect(size).toBeLessThanOrEqual(LIMIT);
    expect(r.results).toHaveLength(40);
    for (const h of r.results) {
      expect(h.stdout_bytes).toBe(100_000);
      expect(h.omitted_bytes.stdout).toBeGreaterThan(100_000 - 98_304 / 80);
    }
  });

  it('shows a single host up to max_bytes, and carries the limits per host', async () => {
    const { value: r } = await call<{ results: Run[] }>('ssh_run_on_tag', { tag: 'one', command: 'seq 20000', max_bytes: 1000 });
    expect(r.results[0]?.read_cursor.stdout).toBe(500);
    expect(r.results[0]?.limits.max_seconds).toBeGreaterThan(0);
  });
});
