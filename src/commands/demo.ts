/**
 * `sshgate demo`: a scripted MCP session against a throwaway SSH host on 127.0.0.1. It starts the
 * host (the system's sshd when it can log this user in, else the embedded demo host), writes a
 * demo config and policy to a temporary folder, starts `sshgate serve` over stdio and drives it
 * with the MCP SDK's client, printing each step. Everything is removed afterwards.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { Client } from '@modelcontextprotocol/client';
import { startEmbeddedHost, type DemoHost } from '../demo/embedded-host.js';
import { canLogIn, startOpenSshHost } from '../demo/openssh-host.js';
import type { Io } from './context.js';
import { ed25519KeyPair } from '../demo/keys.js';

/** Output over time, for the async step: five simple commands, each allowed on its own. */
const LOOP = [1, 2, 3, 4, 5].map((i) => `echo tick ${i}`).join('; sleep 0.3; ');

export const DEMO_POLICY = `# The demo policy: a few harmless commands on the demo host, nothing else.
rules:
  - name: harmless diagnostics
    action: allow
    commands: ["uname -a", "uptime", "whoami", "date", "id", "echo *", "sleep *"]
  - name: never delete or reboot
    action: deny
    commands: ["rm *", "reboot*", "shutdown*"]
`;

export interface DemoOptions {
  /** `embedded` skips the system sshd. */
  host?: 'auto' | 'embedded';
}

export async function demoCommand(io: Io, options: DemoOptions = {}): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'sshgate-demo-'));
  const say = (s: string) => io.out(`${s}\n`);
  let host: DemoHost | undefined;
  let client: Client | undefined;
  let cleaning: Promise<void> | undefined;
  // The demo host, its key and the server must not outlive the demo, also when it is interrupted.
  const cleanup = () =>
    (cleaning ??= (async () => {
      await client?.close().catch(() => undefined);
      await host?.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    })());
  const signals = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
  const onSignal = (sig: keyof typeof signals) => void cleanup().finally(() => process.exit(signals[sig]));
  for (const sig of Object.keys(signals) as (keyof typeof signals)[]) process.once(sig, onSignal);
  try {
    say('sshgate demo — a scripted MCP session against a throwaway SSH host\n');
    const user = userInfo().username;
    const key = ed25519KeyPair();
    host = await startHost(dir, key.public, user, key.private, options.host ?? 'auto', say);
    say(
      `[host]   DEMO host ${host.host}:${host.port} (${host.kind === 'openssh' ? 'the system OpenSSH sshd' : 'embedded ssh2 server'}) — commands run on THIS machine as ${user}`,
    );
    writeDemoConfig(dir, host, user, key.private);
    say(`[config] ${dir}: config/servers.yml, config/credentials.yml, config/known_hosts, policies/demo.yml`);
    // The bundle (rolldown.config.mjs) puts every chunk of dist/ beside the entry.
    const cli = fileURLToPath(new URL('./cli.js', import.meta.url));
    say(`[serve]  node ${cli} serve --config ${join(dir, 'config')} --policy ${join(dir, 'policies')}   (MCP over stdio)\n`);
    client = new Client({ name: 'sshgate-demo', version: '1.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [
          cli,
          'serve',
          '--config',
          join(dir, 'config'),
          '--policy',
          join(dir, 'policies'),
          '--state-dir',
          join(dir, 'state'),
          '--log-level',
          'warn',
        ],
        stderr: 'inherit',
      }),
    );
    await script(client, say);
    say('\ndone: every step worked. Next: point --config and --policy at your own files (see the README).');
    return 0;
  } catch (err) {
    // Interrupted: the steps fail because the cleanup took their server away; that is no news.
    if (!cleaning) io.err(`sshgate demo: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await cleanup();
    for (const sig of Object.keys(signals) as (keyof typeof signals)[]) process.removeListener(sig, onSignal);
  }
}

async function startHost(
  dir: string,
  publicKey: string,
  user: string,
  privateKey: string,
  mode: 'auto' | 'embedded',
  say: (s: string) => void,
): Promise<DemoHost> {
  if (mode === 'auto') {
    const sshdDir = join(dir, 'sshd');
    mkdirSync(sshdDir);
    try {
      const h = await startOpenSshHost(sshdDir, publicKey);
      if (await canLogIn(h, user, privateKey)) return h;
      await h.stop();
      say(`[host]   the system sshd does not log in "${user}" (a locked account?): using the embedded demo host`);
    } catch (err) {
      say(`[host]   no usable system sshd (${(err as Error).message}): using the embedded demo host`);
    }
  }
  return startEmbeddedHost(publicKey);
}

function writeDemoConfig(dir: string, host: DemoHost, user: string, privateKey: string): void {
  const config = join(dir, 'config');
  mkdirSync(join(config, 'keys'), { recursive: true });
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(config, 'keys', 'demo_ed25519'), privateKey, { mode: 0o600 });
  writeFileSync(
    join(config, 'servers.yml'),
    `hosts:\n  - { alias: demo, host: "${host.host}", port: ${host.port}, user: "${user}", credentials: demo-key, tags: [demo], description: "DEMO host on 127.0.0.1: commands run on this machine" }\n`,
  );
  writeFileSync(join(config, 'credentials.yml'), 'entries:\n  - { name: demo-key, key_path: demo_ed25519 }\n');
  writeFileSync(join(config, 'known_hosts'), `[${host.host}]:${host.port} ${host.hostPublicKey}\n`);
  writeFileSync(join(dir, 'policies', 'demo.yml'), DEMO_POLICY);
}

type Say = (s: string) => void;

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const r = await client.callTool({ name, arguments: args });
  const first = r.content[0];
  const text = first?.type === 'text' ? first.text : '';
  if (r.isError) {
    const e = JSON.parse(text) as { code: string; message: string };
    throw new Error(`${name} failed: ${e.code}: ${e.message}`);
  }
  return r.structuredContent as Record<string, unknown>;
}

const indent = (text: string) =>
  text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => `     ${l}`)
    .join('\n');

async function script(client: Client, say: Say): Promise<void> {
  say('1. ssh_list_hosts');
  const hosts = (await call(client, 'ssh_list_hosts', {})).hosts as { alias: string; tags: string[]; description: string }[];
  for (const h of hosts) say(`   → ${h.alias}  [${h.tags.join(', ')}]  ${h.description}`);

  const denied = 'uname -a; rm -rf ~/important';
  say(`\n2. ssh_plan demo "${denied}"   (asks the policy; runs nothing)`);
  const plan = await call(client, 'ssh_plan', { alias: 'demo', command: denied });
  say(`   → ${plan.allowed ? 'ALLOWED' : 'DENIED'}: ${String(plan.reason)}`);
  for (const s of plan.segments as { text: string; allowed: boolean; rule: string | null }[])
    say(`     ${s.allowed ? 'allow' : 'deny '}  ${s.text}${s.rule ? `   (rule "${s.rule}")` : ''}`);
  if (plan.allowed) throw new Error('the demo policy should have denied that');

  say('\n3. ssh_run demo "uname -a"');
  const run = await call(client, 'ssh_run', { alias: 'demo', command: 'uname -a' });
  say(`   → ${String(run.state)}, exit ${String(run.exit_code)}, ${String(run.duration_ms)} ms`);
  say(indent(String(run.stdout)));
  if (run.state !== 'succeeded') throw new Error('uname -a did not succeed');

  say(`\n4. ssh_run_async demo "${LOOP}"`);
  const task = await call(client, 'ssh_run_async', { alias: 'demo', command: LOOP });
  say(`   → task ${String(task.task_id)}, ${String(task.state)}`);
  let cursor: unknown;
  for (;;) {
    const out = await call(client, 'ssh_get_task_output', { task_id: task.task_id, wait_seconds: 5, ...(cursor ? { cursor } : {}) });
    cursor = out.next_cursor;
    if (out.stdout) say(`   ssh_get_task_output → ${JSON.stringify(out.stdout)}`);
    if (out.done) {
      say(`   → done: ${String(out.state)}`);
      break;
    }
  }

  say('\n5. ssh_run demo "sleep 120" with wait_seconds 1, then ssh_cancel');
  const long = await call(client, 'ssh_run', { alias: 'demo', command: 'sleep 120', wait_seconds: 1 });
  say(`   → ${String(long.state)} after 1 s: task ${String(long.task_id)}`);
  const cancel = await call(client, 'ssh_cancel', { task_id: long.task_id });
  say(`   ssh_cancel → ${String(cancel.result)}`);
  for (let i = 0; i < 60; i++) {
    const st = await call(client, 'ssh_get_task_status', { task_id: long.task_id });
    if (st.state !== 'running') {
      say(`   → ${String(st.state)} (the remote sleep got TERM, then its channel closed)`);
      if (st.state !== 'cancelled') throw new Error('the task was not cancelled');
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the cancelled task did not end');
}
