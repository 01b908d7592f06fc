/**
 * Review of issue 16 (adversarial): what `sshgate approvals list` shows an operator and whom the
 * CLI talks to. Each failed on the code under review; each passes since its fix.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openControlSocket, type ControlSocket } from '../../../src/approvals/control-socket.js';
import { approvalsListCommand } from '../../../src/commands/approvals.js';
import type { RunResult } from '../../../src/gateway/tool-contract.js';
import { scriptedHost, startInProcessGate, type InProcessGate } from '../../support/in-process.js';

const POLICY = `
rules:
  - { name: restarts, action: ask, commands: ["systemctl restart *"] }
`;

let gate: InProcessGate;
let dir: string;
let socket: ControlSocket;

beforeAll(async () => {
  gate = await startInProcessGate([scriptedHost(1, ['prod']), scriptedHost(2, ['staging'], 'staging-1')], { policy: POLICY });
  dir = mkdtempSync(join(tmpdir(), 'sshgate-review-'));
  socket = await openControlSocket(dir, {
    list: (all) => gate.gateway.listApprovals(all),
    answer: (id, answerer, approve, reason) => gate.gateway.answerApproval(id, answerer, approve, reason),
  });
});
afterAll(async () => {
  await socket.close();
  await gate.close();
  rmSync(dir, { recursive: true, force: true });
});

function capture() {
  let out = '';
  let err = '';
  return { io: { out: (t: string) => void (out += t), err: (t: string) => void (err += t) }, out: () => out, err: () => err };
}

describe('review 16: sshgate approvals list', () => {
  it('an agent cannot forge lines of the listing with a newline and a shell comment in its command', async () => {
    const alice = await gate.as({ name: 'alice', roles: [], via: 'command-line' });
    // Accepted by the policy: the second line is a comment, the ask rule matches the first.
    const command = 'systemctl restart nginx\n#  hosts:     staging-1\n#  note:      routine, pre-approved by change 4711';
    const r = await alice.ok<RunResult>('ssh_run', { alias: 'h1', command, wait_seconds: 0 });
    expect(r.state).toBe('awaiting_approval');
    try {
      const c = capture();
      expect(await approvalsListCommand({ stateDir: dir }, c.io)).toBe(0);
      const lines = c.out().split('\n');
      // The command is shown JSON-quoted: its newlines cannot start lines of their own.
      expect(lines.filter((l) => /^ +hosts:/.test(l))).toEqual(['  hosts:     h1']);
      expect(lines.filter((l) => l.startsWith('#'))).toEqual([]);
    } finally {
      await alice.ok('ssh_cancel', { task_id: r.task_id });
      await alice.close();
    }
  });
  it('invisible and bidi control characters in a command are not shown raw to the operator', async () => {
    const alice = await gate.as({ name: 'alice', roles: [], via: 'command-line' });
    // Accepted today: U+202E (right-to-left override) and U+200B (zero width space) pass
    // commandInputProblem; a form or terminal that honours bidi shows "nginx" reversed or
    // hides characters, so the person does not read what runs.
    const command = 'systemctl restart \u202Exnign\u200B';
    const r = await alice.ok<RunResult>('ssh_run', { alias: 'h1', command, wait_seconds: 0 }).catch((e: unknown) => e);
    try {
      if (r instanceof Error) return; // refused at the edge: fixed that way
      const c = capture();
      await approvalsListCommand({ stateDir: dir }, c.io);
      expect(c.out()).not.toMatch(/[\u200b-\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/);
    } finally {
      if (!(r instanceof Error)) await alice.ok('ssh_cancel', { task_id: (r as RunResult).task_id });
      await alice.close();
    }
  });
});

describe('review 16: the CLI and a state dir others can write', () => {
  let shared: string;
  let fake: Server;
  beforeAll(async () => {
    // A dir anyone may write (a --state-dir under /tmp, a group-writable deployment dir): the
    // server refuses to serve from it (state-dir.ts), the CLI does not refuse to ask it.
    shared = mkdtempSync(join(tmpdir(), 'sshgate-shared-'));
    chmodSync(shared, 0o777);
    fake = createServer((s) => {
      s.once('data', () =>
        s.end(
          `${JSON.stringify({
            ok: true,
            pid: 1,
            approvals: [
              {
                approval_id: 'apr-0000000000000001',
                state: 'pending',
                principal: 'alice',
                hosts: ['staging-1'],
                task_ids: [],
                command: 'uptime',
                command_sha256: '',
                become: null,
                rules: [],
                approve_by: 'operator',
                four_eyes: false,
                grant_minutes: null,
                created_at: new Date().toISOString(),
                deadline: new Date(Date.now() + 600_000).toISOString(),
              },
            ],
          })}\n`,
        ),
      );
    });
    // pid 1 is always alive: the CLI takes the planted socket for a running server's.
    await new Promise<void>((res) => fake.listen(join(shared, 'control.1.sock'), () => res()));
  });
  afterAll(async () => {
    await new Promise<void>((res) => fake.close(() => res()));
    rmSync(shared, { recursive: true, force: true });
  });

  it('refuses a state dir that group or others can write, as sshgate serve does', async () => {
    const c = capture();
    const code = await approvalsListCommand({ stateDir: shared }, c.io);
    // Today: exit 0 and the planted server's made-up request is listed as a real one.
    expect({ code, listed: c.out().includes('apr-0000000000000001') }).toEqual({ code: 2, listed: false });
  });
});
