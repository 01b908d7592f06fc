/**
 * Review of issue 16, feature A (client approval): what the client is shown after a reload made
 * the rule stricter, and after an operator answered. Each failed on the code under review.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLIENT_CAPABILITIES_META_KEY, type ServerContext } from '@modelcontextprotocol/server';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskHandles, TasksExtension } from '../../../src/mcp/tasks-extension.js';
import type { Principal } from '../../../src/principal.js';
import { scriptedHost, startInProcessGate, type InProcessGate } from '../../support/in-process.js';

const POLICY = `
rules:
  - { name: restarts, action: ask, approve_by: client, commands: ["systemctl restart *"] }
  - { name: migrations, action: ask, approve_by: either, commands: ["migrate *"] }
`;

let gate: InProcessGate;
beforeAll(async () => {
  gate = await startInProcessGate([scriptedHost(1, ['web'])], { policy: POLICY });
  gate.hosts.script((c) =>
    c.command.includes('migrate') ? { steps: [{ stdout: 'started\n' }], hang: true } : { steps: [{ stdout: `ran ${c.command}\n` }] },
  );
});
afterAll(async () => {
  await gate?.close();
});

/** The context of a 2026-07-28 request that declares form elicitation. */
const eliciting = { mcpReq: { envelope: { [CLIENT_CAPABILITIES_META_KEY]: { elicitation: { form: {} } } } } } as unknown as ServerContext;

describe('review-b: client approval after a reload made the rule operator-only', () => {
  // A-1 (low): approvalForm reads the request's terms as they were asked, never the policy in
  // force (the broker's answer() rechecks, approvalForm does not). After a reload to approve_by:
  // operator the Tasks extension keeps reporting input_required with the form on every tasks/get,
  // every tasks/update answer is refused and swallowed, so the client's user is asked again and
  // again and their answers vanish; at 2026-07-28 the retry's accept becomes a `forbidden` tool
  // error; at 2025 the form is pushed. The client is shown a form it may no longer answer.
  it('A-1: no form is shown once the rule in force says approve_by: operator', async () => {
    const alice: Principal = { name: 'alice', roles: [], via: 'token', credentialId: 'tok-alice' };
    const view = gate.gateway.forCaller({ principal: alice });
    const ext = new TasksExtension(view, new TaskHandles(), pino({ level: 'silent' }));
    const created = ext.start('ssh_run', { alias: 'h1', command: 'systemctl restart app' }) as { taskId: string };
    const taskId = created.taskId;
    expect(ext.get(taskId, eliciting)).toMatchObject({ status: 'input_required' });

    const file = join(gate.dir, 'policies', 'test.yml');
    const before = readFileSync(file, 'utf8');
    writeFileSync(file, before.replace('approve_by: client', 'approve_by: operator'));
    try {
      await view.reload();
      // The client is shown no form it may no longer answer, and an answer under the old key counts for nothing.
      expect(view.approvalForm(taskId)).toBeUndefined();
      ext.update(taskId, { [`approve-${String(created.taskId)}`]: { action: 'accept', content: { approve: true } } });
      expect(gate.gateway.listApprovals().find((a) => a.command === 'systemctl restart app')?.state).toBe('pending');
      expect(ext.get(taskId, eliciting)).toMatchObject({ status: 'working' });
    } finally {
      writeFileSync(file, before);
      await view.reload();
      gate.gateway.cancelTask(taskId);
    }
  });
});

describe('review-b: the 2025-era form after an operator approved (approve_by: either)', () => {
  // A-2 (low/medium): the form is withdrawn only when the task ENDS (askClient aborts on
  // task.done), not when the request is answered. An operator approves under `either`; the command
  // runs for minutes while the client's user still sees "Run this command?" with yes/no. Their
  // "no" is refused and swallowed (askClient's catch): the user believes they stopped it, and
  // nothing tells them it ran. docs/approvals-client.md says it is withdrawn when "answered by an
  // operator under either".
  it("A-2: the client's form is withdrawn as soon as an operator answers", async () => {
    const bob: Principal = { name: 'bob', roles: [], via: 'token', credentialId: 'tok-bob' };
    const view = gate.gateway.forCaller({ principal: bob });
    let formSignal: AbortSignal | undefined;
    let shown: string | undefined;
    const approver = (form: { message: string }, signal: AbortSignal) => {
      shown = form.message;
      formSignal = signal;
      return new Promise<undefined>((resolve) => signal.addEventListener('abort', () => resolve(undefined)));
    };
    const run = view.run({ alias: 'h1', command: 'migrate db', wait_seconds: 1 }, undefined, undefined, approver);
    await new Promise((r) => setTimeout(r, 50));
    expect(shown).toContain('command: "migrate db"');
    const pending = gate.gateway.listApprovals().find((a) => a.command === 'migrate db');
    gate.gateway.answerApproval(pending?.approval_id as string, { name: 'root', via: 'os-user', channel: 'control-socket' }, true);
    const r = await run;
    try {
      expect(r.state).toBe('running');
      // The command runs; the form asking whether to run it is still open in the client.
      expect(formSignal?.aborted).toBe(true);
    } finally {
      await view.cancel({ task_id: r.task_id });
    }
  });
});
