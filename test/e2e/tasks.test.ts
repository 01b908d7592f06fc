import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ALLOW_ALL_POLICY,
  goneWithin,
  pgrep,
  pkillFleet,
  presentWithin,
  removeConfig,
  startGate,
  writeConfig,
  type Gate,
} from '../support/mcp.js';
import { closedPort, startFleet, type Fleet } from '../support/sshd.js';

interface Output {
  stdout: string;
  stderr: string;
  next_cursor: { stdout: number; stderr: number };
  done: boolean;
  state: string;
  dropped_bytes: { stdout: number; stderr: number };
}

const POLICY = `${ALLOW_ALL_POLICY}
  - { name: "shell code and printf", action: allow, commands: ["sh -c *", "printf *"] }
  - { name: "no uname on h1 and h2", action: deny, aliases: [h1, h2], commands: ["uname*"] }
overrides:
  aliases:
    h3: { max_concurrent_per_host: 1 }
`;

let fleet: Fleet;
let gate: Gate;
let dir: string;
let stateDir: string;
beforeAll(async () => {
  fleet = await startFleet(19, { subnet: 68 });
  const dead = await closedPort();
  dir = writeConfig(fleet, {
    hosts: [...fleet.hosts.map((h) => ({ ...h, tags: ['all'] })), { alias: 'dead', host: '127.0.0.1', port: dead, tags: ['all'] }],
    policy: POLICY,
  });
  stateDir = mkdtempSync(join(tmpdir(), 'sshgate-state-'));
  gate = await startGate(dir, { SSHGATE_STATE_DIR: stateDir });
});
afterAll(async () => {
  await gate?.close();
  pkillFleet(fleet.user, 'sleep 32[01]');
  await fleet?.stop();
  if (dir) removeConfig(dir);
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe('async tasks', () => {
  it('streams output by cursor: every line once, in order, then done', async () => {
    const { task_id, state } = await gate.ok<{ task_id: string; state: string }>('ssh_run_async', {
      alias: 'h1',
      command: `sh -c '${Array.from({ length: 20 }, (_, i) => `echo ${i + 1}`).join('; sleep 0.2; ')}'`,
    });
    expect(['queued', 'running']).toContain(state);
    let cursor: Output['next_cursor'] | undefined;
    let text = '';
    let reads = 0;
    for (;;) {
      const o: Output = await gate.ok('ssh_get_task_output', { task_id, wait_seconds: 5, ...(cursor ? { cursor } : {}) });
      reads++;
      text += o.stdout;
      cursor = o.next_cursor;
      if (o.done) break;
    }
    expect(text).toBe(Array.from({ length: 20 }, (_, i) => `${i + 1}\n`).join(''));
    expect(reads).toBeGreaterThan(3);
    const status = await gate.ok<{ state: string; exit_code: number; stdout_bytes: number }>('ssh_get_task_status', { task_id });
    expect(status).toMatchObject({ state: 'succeeded', exit_code: 0, stdout_bytes: text.length });
  });

  it('waits for the rest of a character cut in two instead of answering empty at once', async () => {
    const { task_id } = await gate.ok<{ task_id: string }>('ssh_run_async', {
      alias: 'h8',
      command: 'sh -c \'printf "\\342\\202"; sleep 1; printf "\\254\\n"\'',
    });
    let cursor: Output['next_cursor'] | undefined;
    let text = '';
    const t0 = Date.now();
    let empties = 0;
    for (;;) {
      const o: Output = await gate.ok('ssh_get_task_output', { task_id, wait_seconds: 5, ...(cursor ? { cursor } : {}) });
      if (o.stdout === '' && !o.done) empties++;
      text += o.stdout;
      cursor = o.next_cursor;
      if (o.done) break;
      if (Date.now() - t0 > 10_000) break;
    }
    expect(text).toBe('€\n');
    expect(empties).toBe(0);
  });

  it('keeps head and tail of a flood within max_output_bytes and counts what it dropped', async () => {
    const total = 50_000_000;
    const cap = 1_048_576;
    const { task_id } = await gate.ok<{ task_id: string }>('ssh_run_async', { alias: 'h2', command: `yes | head -c ${total}` });
    let o: Output = await gate.ok('ssh_get_task_output', { task_id, wait_seconds: 0 });
    for (let i = 0; i < 60 && (await gate.ok<{ state: string }>('ssh_get_task_status', { task_id })).state === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 500));
    }
    const status = await gate.ok<{ state: string; stdout_bytes: number }>('ssh_get_task_status', { task_id });
    expect(status).toMatchObject({ state: 'succeeded', stdout_bytes: total });
    let kept = 0;
    let dropped = 0;
    let cursor = { stdout: 0, stderr: 0 };
    do {
      o = await gate.ok('ssh_get_task_output', { task_id, cursor, max_bytes: 131_072 });
      kept += Buffer.byteLength(o.stdout);
      dropped += o.dropped_bytes.stdout;
      cursor = o.next_cursor;
    } while (!o.done);
    expect(kept).toBe(cap);
    expect(dropped).toBe(total - cap);
    expect(cursor.stdout).toBe(total);
  });

  it('stops a task cancelled at once, while its connection or channel is still opening', async () => {
    for (const alias of ['h7', 'h7']) {
      const { task_id } = await gate.ok<{ task_id: string }>('ssh_run_async', { alias, command: 'sleep 330' });
      const c = await gate.ok<{ result: string; state: string; final: boolean }>('ssh_cancel', { task_id });
      expect(c).toMatchObject({ result: 'cancelled', state: 'cancelled', final: true });
      expect((await gate.ok<{ state: string }>('ssh_get_task_status', { task_id })).state).toBe('cancelled');
    }
    expect(pgrep(fleet.user, 'sleep 330( |;|$)')).toBe('');
  });

  it('queues tasks beyond the per-host limit', async () => {
    const a = await gate.ok<{ task_id: string; state: string }>('ssh_run_async', { alias: 'h3', command: 'sleep 1' });
    const b = await gate.ok<{ task_id: string; state: string }>('ssh_run_async', { alias: 'h3', command: 'sleep 1' });
    expect(a.state).toBe('running');
    expect(b.state).toBe('queued');
    const list = await gate.ok<{ tasks: { task_id: string }[] }>('ssh_list_tasks', { limit: 2 });
    expect(list.tasks.map((t) => t.task_id)).toEqual([b.task_id, a.task_id]);
    const queued = await gate.ok<{ tasks: { task_id: string }[] }>('ssh_list_tasks', { state: 'queued' });
    expect(queued.tasks.map((t) => t.task_id)).toContain(b.task_id);
    await gate.ok('ssh_cancel', { task_id: a.task_id });
    await gate.ok('ssh_cancel', { task_id: b.task_id });
  });
});

describe('ssh_run as a long call', () => {
  it('sends the task id, then the output, as progress notifications', async () => {
    const messages: string[] = [];
    const r = await gate.client.callTool(
      { name: 'ssh_run', arguments: { alias: 'h4', command: "sh -c 'echo line1; sleep 0.4; echo line2; sleep 0.4; echo line3'" } },
      { onprogress: (p) => messages.push(p.message ?? '') },
    );
    const id = (r.structuredContent as { task_id: string }).task_id;
    expect(messages[0]).toBe(`task_id ${id}`);
    expect(messages.slice(1).join('')).toContain('line2');
    expect(messages.length).toBeGreaterThanOrEqual(3);
  });

  it('cuts progress text on whole characters: no lone surrogate for strict JSON parsers', async () => {
    const messages: string[] = [];
    await gate.client.callTool(
      { name: 'ssh_run', arguments: { alias: 'h4', command: `sh -c 'printf ${'😀'.repeat(3000)}y; sleep 0.6'` } },
      { onprogress: (p) => messages.push(p.message ?? '') },
    );
    const output = messages.slice(1);
    expect(output.join('')).toContain('😀');
    for (const m of output) expect(/\p{Cs}/u.test(m), JSON.stringify(m.slice(0, 12))).toBe(false);
  });

  it('cancels the task when the client abandons the call', async () => {
    const controller = new AbortController();
    const call = gate.client.callTool(
      { name: 'ssh_run', arguments: { alias: 'h5', command: 'sleep 310' } },
      {
        signal: controller.signal,
      },
    );
    call.catch(() => undefined);
    expect(await presentWithin(fleet.user, 'sleep 310')).not.toBe('');
    controller.abort();
    expect(await goneWithin(fleet.user, 'sleep 310', 3000)).toBe(true);
    // The process is gone a moment before the task records its end (channel closed, sweep done).
    const deadline = Date.now() + 3000;
    let cancelled = false;
    while (!cancelled && Date.now() < deadline) {
      const list = await gate.ok<{ tasks: { alias: string; state: string }[] }>('ssh_list_tasks', { state: 'cancelled' });
      cancelled = list.tasks.some((t) => t.alias === 'h5');
      if (!cancelled) await new Promise((r) => setTimeout(r, 50));
    }
    expect(cancelled).toBe(true);
  });
});

describe('ssh_run_on_tag', () => {
  it('runs on 20 hosts at once: 19 results and one clear error for the dead one', async () => {
    const r = await gate.ok<{
      results: { alias: string; status: string; stdout: string; error?: { code: string } }[];
      summary: Record<string, number>;
    }>('ssh_run_on_tag', { tag: 'all', command: 'echo hi', timeout_seconds: 10 });
    expect(r.results).toHaveLength(20);
    expect(r.results.filter((x) => x.status === 'succeeded' && x.stdout === 'hi\n')).toHaveLength(19);
    const dead = r.results.find((x) => x.alias === 'dead');
    expect(dead).toMatchObject({ status: 'error', error: { code: 'connect_failed' } });
    expect(r.summary).toMatchObject({ total: 20, succeeded: 19, failed: 1, denied: 0, running: 0 });
  });

  it('reports the hosts the policy denies and runs the rest', async () => {
    const r = await gate.ok<{ results: { alias: string; status: string; reason?: string }[]; summary: Record<string, number> }>(
      'ssh_run_on_tag',
      {
        tag: 'all',
        command: 'uname -s',
        concurrency: 4,
        timeout_seconds: 10,
      },
    );
    const denied = r.results.filter((x) => x.status === 'denied');
    expect(denied.map((x) => x.alias)).toEqual(['h1', 'h2']);
    expect(denied[0]?.reason).toContain('no uname on h1 and h2');
    expect(r.summary).toMatchObject({ denied: 2, succeeded: 17, failed: 1 });
  });
});

describe('the task journal', () => {
  it('reports a task that was running when the server died as lost after a restart', async () => {
    const victim = await startGate(dir, { SSHGATE_STATE_DIR: stateDir });
    const { task_id } = await victim.ok<{ task_id: string }>('ssh_run_async', { alias: 'h6', command: 'sleep 320' });
    await new Promise((r) => setTimeout(r, 300));
    process.kill(victim.transport.pid as number, 'SIGKILL');
    await victim.close().catch(() => undefined);
    const next = await startGate(dir, { SSHGATE_STATE_DIR: stateDir });
    try {
      const status = await next.ok<{ state: string; error?: { code: string; message: string } }>('ssh_get_task_status', { task_id });
      expect(status.state).toBe('lost');
      expect(status.error?.code).toBe('lost');
      expect(status.error?.message).toContain('stopped while the task was running');
      const done = await next.ok<{ tasks: { task_id: string; state: string }[] }>('ssh_list_tasks', {});
      expect(done.tasks.find((t) => t.task_id === task_id)?.state).toBe('lost');
    } finally {
      await next.close();
    }
  });

  it("keeps each configuration's journal to itself under the default state dir", async () => {
    const xdg = mkdtempSync(join(tmpdir(), 'sshgate-xdg-'));
    // Another deployment with the same aliases: only where the files are tells it apart.
    const staging = writeConfig(fleet, { hosts: fleet.hosts.slice(0, 8), policy: POLICY });
    const env = { SSHGATE_STATE_DIR: '', XDG_STATE_HOME: xdg };
    try {
      const prod = await startGate(dir, env);
      const { task_id } = await prod.ok<{ task_id: string }>('ssh_run_async', { alias: 'h6', command: 'sleep 321' });
      await new Promise((r) => setTimeout(r, 300));
      process.kill(prod.transport.pid as number, 'SIGKILL');
      await prod.close().catch(() => undefined);

      const other = await startGate(staging, env);
      try {
        expect((await other.fails('ssh_get_task_status', { task_id })).code).toBe('not_found');
        const listed = await other.ok<{ tasks: { task_id: string }[] }>('ssh_list_tasks', {});
        expect(listed.tasks.map((t) => t.task_id)).not.toContain(task_id);
      } finally {
        await other.close();
      }
      const again = await startGate(dir, env);
      try {
        expect((await again.ok<{ state: string }>('ssh_get_task_status', { task_id })).state).toBe('lost');
      } finally {
        await again.close();
      }
      expect(readdirSync(join(xdg, 'sshgate'))).toEqual([expect.stringMatching(/^[0-9a-f]{16}$/), expect.stringMatching(/^[0-9a-f]{16}$/)]);
    } finally {
      removeConfig(staging);
      rmSync(xdg, { recursive: true, force: true });
    }
  });

  it('shows and describes a task of an earlier run only while its host is in the inventory', async () => {
    const shared = mkdtempSync(join(tmpdir(), 'sshgate-state-'));
    const fewer = writeConfig(fleet, { hosts: fleet.hosts.slice(0, 8), policy: POLICY });
    try {
      const before = await startGate(dir, { SSHGATE_STATE_DIR: shared });
      const kept = await before.ok<{ task_id: string }>('ssh_run', { alias: 'h6', command: 'echo kept' });
      const gone = await before.ok<{ task_id: string }>('ssh_run', { alias: 'h12', command: 'echo gone' });
      process.kill(before.transport.pid as number, 'SIGKILL');
      await before.close().catch(() => undefined);

      const after = await startGate(fewer, { SSHGATE_STATE_DIR: shared });
      try {
        expect((await after.ok<{ state: string }>('ssh_get_task_status', { task_id: kept.task_id })).state).toBe('succeeded');
        expect((await after.fails('ssh_get_task_status', { task_id: gone.task_id })).code).toBe('not_found');
        const listed = await after.ok<{ tasks: { task_id: string }[] }>('ssh_list_tasks', {});
        expect(listed.tasks.map((t) => t.task_id)).toContain(kept.task_id);
        expect(listed.tasks.map((t) => t.task_id)).not.toContain(gone.task_id);
      } finally {
        await after.close();
      }
    } finally {
      removeConfig(fewer);
      rmSync(shared, { recursive: true, force: true });
    }
  });
});
