/**
 * Commands an ask rule holds, approved by the user of the caller's MCP client, end to end: the
 * SDK's own client over stdio and over HTTP, at 2026-07-28 (input_required and the retry) and at
 * 2025-11-25 (elicitation/create), against a real sshd. Each approved command appends a line to
 * a file on the host, so the line count is how often the host really ran it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport, type ClientOptions, type ElicitResult } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../src/gateway/tool-contract.js';
import { removeConfig, startGate, toolCalls, writeConfig, type ToolCalls } from '../support/mcp.js';
import { startServeHttp, type ServeHttp } from '../support/serve-http.js';
import { startFleet, type Fleet } from '../support/sshd.js';

const TOKEN = randomBytes(24).toString('hex');
const FILES = '/tmp/sshgate-elicit-102';

const POLICY = `
rules:
  - { name: reads, action: allow, commands: ["uptime"] }
  - { name: counted, action: ask, approve_by: client, commands: ["echo ran >> ${FILES}-*"] }
  - { name: granted, action: ask, approve_by: either, grant_minutes: 5, commands: ["echo granted >> ${FILES}-*"] }
`;

let fleet: Fleet;
let dir: string;
let http: ServeHttp | undefined;

beforeAll(async () => {
  fleet = await startFleet(1, { subnet: 102 });
  dir = writeConfig(fleet, { hosts: fleet.hosts, policy: POLICY });
  writeFileSync(join(dir, 'token'), TOKEN, { mode: 0o600 });
  http = await startServeHttp(dir, { env: { SSHGATE_TOKEN: TOKEN } });
});

afterAll(async () => {
  await http?.stop();
  await fleet?.stop();
  if (dir) removeConfig(dir);
  for (const c of CASES) for (const k of ['a', 'g', 'd', 'l']) rmSync(`${FILES}-${c.marker}-${k}`, { force: true });
});

const ERAS: { revision: string; options: ClientOptions }[] = [
  { revision: '2026-07-28', options: { versionNegotiation: { mode: { pin: '2026-07-28' } } } },
  { revision: '2025-11-25', options: {} },
];
const CASES = (['stdio', 'http'] as const).flatMap((transport) =>
  ERAS.map((era) => ({ transport, ...era, marker: `${transport}-${era.revision}` })),
);

/** How many times the host appended to the file: the number of runs. */
const runs = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0);

describe.each(CASES)('$transport at $revision', { timeout: 60_000 }, ({ transport, revision, options, marker }) => {
  let tools: ToolCalls;
  let close: () => Promise<void>;
  let answer: ElicitResult = { action: 'accept', content: { approve: true } };
  /** Resolves once the user has made up their mind; at once unless a test holds it. */
  let decided: Promise<void> = Promise.resolve();
  const asked: string[] = [];

  beforeAll(async () => {
    const withElicitation: ClientOptions = { ...options, capabilities: { elicitation: { form: {} } } };
    let client: Client;
    if (transport === 'stdio') {
      const gate = await startGate(dir, {}, [], withElicitation);
      client = gate.client;
      tools = gate;
      close = () => gate.close();
    } else {
      client = new Client({ name: 'approvals-e2e', version: '1.0.0' }, withElicitation);
      await client.connect(
        new StreamableHTTPClientTransport(new URL(http?.url as string), {
          requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } },
        }),
      );
      tools = toolCalls(client);
      close = () => client.close();
    }
    client.setRequestHandler('elicitation/create', async (request) => {
      asked.push(request.params.message);
      await decided;
      return answer;
    });
  });
  afterAll(() => close?.());

  it('an approved command runs once, and the same call asks again', async () => {
    const file = `${FILES}-${marker}-a`;
    answer = { action: 'accept', content: { approve: true } };
    const first = await tools.ok<RunResult>('ssh_run', { alias: 'h1', command: `echo ran >> ${file}` });
    expect(first).toMatchObject({ state: 'succeeded', exit_code: 0 });
    expect(asked).toHaveLength(1);
    expect(asked[0]).toContain(`command: ${JSON.stringify(`echo ran >> ${file}`)}`);
    expect(asked[0]).toMatch(/rule: counted \(.*test\.yml:4:5\)/);
    expect(runs(file)).toBe(1);
    const second = await tools.ok<RunResult>('ssh_run', { alias: 'h1', command: `echo ran >> ${file}` });
    expect(second.state).toBe('succeeded');
    expect(second.approval?.approval_id).not.toBe(first.approval?.approval_id);
    expect(asked).toHaveLength(2);
    expect(runs(file)).toBe(2);
  });

  it('with grant_minutes, the same call runs again without asking', async () => {
    const file = `${FILES}-${marker}-g`;
    const before = asked.length;
    for (let i = 0; i < 2; i++) {
      const r = await tools.ok<RunResult>('ssh_run', { alias: 'h1', command: `echo granted >> ${file}` });
      expect(r.state).toBe('succeeded');
    }
    expect(asked.length - before).toBe(1);
    expect(runs(file)).toBe(2);
  });

  it('refused in the client, the task is denied and the host runs nothing', async () => {
    const file = `${FILES}-${marker}-d`;
    answer = { action: 'decline' };
    const r = await tools.ok<RunResult>('ssh_run', { alias: 'h1', command: `echo ran >> ${file}` });
    expect(r).toMatchObject({ state: 'denied', error: { code: 'approval_denied' } });
    expect(runs(file)).toBe(0);
  });

  // At 2026-07-28 the user's answer is a new call, whenever it comes; the 2025 form outlives the call.
  it.runIf(revision !== '2026-07-28')('an answer given after ssh_run returned awaiting_approval still counts', async () => {
    const file = `${FILES}-${marker}-l`;
    answer = { action: 'accept', content: { approve: true } };
    let release: () => void = () => undefined;
    decided = new Promise((r) => (release = r));
    const r = await tools.ok<RunResult>('ssh_run', { alias: 'h1', command: `echo ran >> ${file}`, wait_seconds: 0 });
    expect(r.state).toBe('awaiting_approval');
    release();
    decided = Promise.resolve();
    let state = r.state;
    for (let i = 0; i < 200 && state !== 'succeeded'; i++) {
      await new Promise((done) => setTimeout(done, 25));
      state = (await tools.ok<RunResult>('ssh_get_task_status', { task_id: r.task_id })).state;
    }
    expect(state).toBe('succeeded');
    expect(runs(file)).toBe(1);
  });
});
