/**
 * Ask rules answered by an operator, against the real sshd through real MCP clients: over stdio the
 * operator runs `sshgate approvals list` / `approve` / `deny` on the server's machine (the control
 * socket); over HTTP an approver POSTs to /approvals/ID with a token of the approver role. What the
 * host ran is counted on the host itself (a line per run in a file).
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newToken, tokenHash } from '../../src/auth/tokens.js';
import type { ApprovalView, RunResult, TaskStatus } from '../../src/gateway/tool-contract.js';
import { removeConfig, startGate, taskReaches, toolCalls, writeConfig, type Gate } from '../support/mcp.js';
import { startServeHttp, type ServeHttp } from '../support/serve-http.js';
import { startFleet, type Fleet } from '../support/sshd.js';

const run = promisify(execFile);

const POLICY = `
rules:
  - { name: reads, action: allow, commands: ["cat *", "uptime"] }
  - name: deploys
    action: ask
    commands: ["echo deploy-* >> /tmp/sshgate-apr-*"]
  - name: purges
    action: ask
    commands: ["echo purge-* >> /tmp/sshgate-apr-*"]
    four_eyes: true
  - name: quick
    action: ask
    commands: ["echo quick-* >> /tmp/sshgate-apr-*"]
    approval_timeout_seconds: 5
`;

let fleet: Fleet;
let dir: string;
let gate: Gate;

beforeAll(async () => {
  fleet = await startFleet(1, { subnet: 103 });
  dir = writeConfig(fleet, { hosts: fleet.hosts, policy: POLICY });
  gate = await startGate(dir);
}, 60_000);
afterAll(async () => {
  await gate?.close();
  await fleet?.stop();
  if (dir) removeConfig(dir);
});

/** `sshgate <args>` on the test's state dir; resolves with its output and exit status. */
async function sshgate(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await run(process.execPath, [resolve('dist/cli.js'), ...args, '--state-dir', join(dir, 'state')], {
      env: { PATH: process.env.PATH ?? '' },
    });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, out: err.stdout, err: err.stderr };
  }
}

function ranLines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function statusOf(g: Pick<Gate, 'ok'>, taskId: string, state: string): Promise<TaskStatus> {
  return taskReaches(g, taskId, state, { every: 50 });
}

describe('an operator answers over the control socket', { timeout: 60_000 }, () => {
  it('awaiting_approval, sshgate approvals list shows it, sshgate approve runs it once on the host', async () => {
    const file = '/tmp/sshgate-apr-1';
    rmSync(file, { force: true });
    const command = `echo deploy-1 >> ${file}`;
    const r = await gate.ok<RunResult>('ssh_run', { alias: 'h1', command, wait_seconds: 0 });
    expect(r.state).toBe('awaiting_approval');
    const id = r.approval?.approval_id as string;

    const sock = statSync(join(dir, 'state', `control.${/control\.(\d+)\.sock/.exec(gate.log())?.[1] ?? ''}.sock`));
    expect(sock.mode & 0o777).toBe(0o600);

    const listed = await sshgate('approvals', 'list');
    expect(listed.code).toBe(0);
    expect(listed.out).toContain(id);
    expect(listed.out).toContain(command);
    expect(listed.out).toMatch(/rules: +deploys \(.*test\.yml:\d+:\d+\)/);
    const json = JSON.parse((await sshgate('approvals', 'list', '--json')).out) as ApprovalView[];
    expect(json.find((a) => a.approval_id === id)).toMatchObject({ hosts: ['h1'], command, state: 'pending' });
    expect(ranLines(file)).toEqual([]);

    const approved = await sshgate('approve', id, '--reason', 'change 42');
    expect(approved).toMatchObject({ code: 0 });
    expect(approved.out).toMatch(new RegExp(`${id} approved by \\S+`));
    await statusOf(gate, r.task_id, 'succeeded');
    expect(ranLines(file)).toEqual(['deploy-1']);

    const again = await sshgate('approve', id);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/already approved/);
    expect(ranLines(file)).toEqual(['deploy-1']);
    expect(gate.log()).toMatch(new RegExp(`"event":"approval_approved","approval_id":"${id}".*"channel":"control-socket"`));
  });

  it('sshgate deny refuses it: the task ends denied, the command never ran', async () => {
    const file = '/tmp/sshgate-apr-2';
    rmSync(file, { force: true });
    const r = await gate.ok<RunResult>('ssh_run', { alias: 'h1', command: `echo deploy-2 >> ${file}`, wait_seconds: 0 });
    const id = r.approval?.approval_id as string;
    expect((await sshgate('deny', id)).code).toBe(2);
    expect(await sshgate('deny', id, '--reason', 'freeze')).toMatchObject({ code: 0 });
    const s = await statusOf(gate, r.task_id, 'denied');
    expect(s.error).toMatchObject({ code: 'approval_denied', message: expect.stringMatching(/refused by \S+: freeze/) as unknown });
    expect(ranLines(file)).toEqual([]);
  });

  it('four eyes: the asker cannot approve its own request; another name can', async () => {
    const file = '/tmp/sshgate-apr-3';
    rmSync(file, { force: true });
    const r = await gate.ok<RunResult>('ssh_run', { alias: 'h1', command: `echo purge-3 >> ${file}`, wait_seconds: 0 });
    const id = r.approval?.approval_id as string;
    // The stdio caller is the OS user the server runs as; the CLI answers as the same user.
    const self = await sshgate('approve', id);
    expect(self.code).toBe(1);
    expect(self.err).toMatch(/cannot approve it: the ask rule says four_eyes: true/);
    expect(await sshgate('approve', id, '--as', 'alice')).toMatchObject({ code: 0 });
    await statusOf(gate, r.task_id, 'succeeded');
    expect(ranLines(file)).toEqual(['purge-3']);
  });

  it('unanswered, the request expires: the task ends denied with approval_timeout', async () => {
    const file = '/tmp/sshgate-apr-4';
    rmSync(file, { force: true });
    const r = await gate.ok<RunResult>('ssh_run', { alias: 'h1', command: `echo quick-4 >> ${file}`, wait_seconds: 0 });
    const s = await statusOf(gate, r.task_id, 'denied');
    expect(s.error?.code).toBe('approval_timeout');
    expect(ranLines(file)).toEqual([]);
    expect((await sshgate('approve', r.approval?.approval_id as string)).err).toMatch(/already expired/);
  });

  it('the agent cancels its own request', async () => {
    const r = await gate.ok<RunResult>('ssh_run', { alias: 'h1', command: 'echo deploy-5 >> /tmp/sshgate-apr-5', wait_seconds: 0 });
    expect(await gate.ok('ssh_cancel', { task_id: r.task_id })).toMatchObject({ state: 'cancelled', final: true });
    const listed = JSON.parse((await sshgate('approvals', 'list', '--all', '--json')).out) as ApprovalView[];
    expect(listed.find((a) => a.approval_id === r.approval?.approval_id)?.state).toBe('withdrawn');
  });

  it('with no server running, the CLI says so', async () => {
    const r = await run(process.execPath, [resolve('dist/cli.js'), 'approvals', 'list', '--state-dir', join(dir, 'nothing-here')]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect('code' in r ? r.code : 0).toBe(2);
    expect('stderr' in r ? r.stderr : '').toMatch(/no running sshgate server/);
  });
});

describe('an approver answers over HTTP', { timeout: 60_000 }, () => {
  const AGENT = newToken().token;
  const CAROL = newToken().token;
  let http: ServeHttp;
  let agent: Client;

  beforeAll(async () => {
    writeFileSync(
      join(dir, 'tokens.yml'),
      `tokens:\n  - { id: agent-1, principal: agent, roles: [approver], sha256: ${tokenHash(AGENT)} }\n  - { id: carol-1, principal: carol, roles: [approver], sha256: ${tokenHash(CAROL)} }\n`,
      { mode: 0o600 },
    );
    http = await startServeHttp(dir, { args: ['--tokens-file', join(dir, 'tokens.yml')] });
    agent = new Client({ name: 'approvals-test', version: '1' });
    await agent.connect(
      new StreamableHTTPClientTransport(new URL(http.url), { requestInit: { headers: { authorization: `Bearer ${AGENT}` } } }),
    );
  }, 60_000);
  afterAll(async () => {
    await agent?.close();
    await http?.stop();
  });

  const admin = async (token: string, path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${http.port}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  it('GET /approvals lists, POST /approvals/ID answers; the asker cannot approve under four eyes', async () => {
    const calls = toolCalls(agent);
    const file = '/tmp/sshgate-apr-6';
    rmSync(file, { force: true });
    const r = await calls.ok<RunResult>('ssh_run', { alias: 'h1', command: `echo purge-6 >> ${file}`, wait_seconds: 0 });
    const id = r.approval?.approval_id as string;
    const list = await admin(CAROL, '/approvals');
    expect(list.status).toBe(200);
    expect((list.json.approvals as ApprovalView[]).map((a) => a.approval_id)).toContain(id);

    const nobody = await admin('not-a-token', '/approvals');
    expect(nobody.status).toBe(401);
    const self = await admin(AGENT, `/approvals/${id}`, { decision: 'approve' });
    expect(self.status).toBe(403);
    expect(JSON.stringify(self.json)).toMatch(/four_eyes/);
    const bad = await admin(CAROL, `/approvals/${id}`, { decision: 'yes' });
    expect(bad.status).toBe(400);

    const ok = await admin(CAROL, `/approvals/${id}`, { decision: 'approve', reason: 'looked at it' });
    expect(ok.status).toBe(200);
    expect(ok.json.approval).toMatchObject({ state: 'approved', answered_by: { name: 'carol', channel: 'http-admin' } });
    await statusOf(calls, r.task_id, 'succeeded');
    expect(ranLines(file)).toEqual(['purge-6']);
    expect((await admin(CAROL, `/approvals/${id}`, { decision: 'approve' })).status).toBe(409);
  });

  it('a principal without the approver role is refused', async () => {
    const PLAIN = newToken().token;
    writeFileSync(
      join(dir, 'tokens.yml'),
      `${readFileSync(join(dir, 'tokens.yml'), 'utf8')}  - { id: dave-1, principal: dave, sha256: ${tokenHash(PLAIN)} }\n`,
      { mode: 0o600 },
    );
    await toolCalls(agent).ok('ssh_reload_config');
    const refused = await admin(PLAIN, '/approvals');
    expect(refused.status).toBe(403);
    expect(JSON.stringify(refused.json)).toMatch(/approver role/);
  });
});
