/**
 * sshgate in one process, as an agent sees it, with no sshd: the real config files written to a
 * temporary dir, the real Gateway, TaskManager and policy over them, the real MCP server of
 * createServer, and the SDK's own Client connected to it through the SDK's in-memory transport.
 * Only the SSH side is scripted (scripted-host.ts). The real-sshd suites in test/e2e stay the
 * authority for what reaches a host.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import type { ClientCapabilities, ElicitRequest, ElicitResult, Tool } from '@modelcontextprotocol/client';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { pino } from 'pino';
import { createAuditor } from '../../src/audit/auditor.js';
import { ed25519KeyPair } from '../../src/demo/keys.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { createServer } from '../../src/mcp/server.js';
import { TaskHandles } from '../../src/mcp/tasks-extension.js';
import type { Principal } from '../../src/principal.js';
import { TaskManager } from '../../src/tasks/task-manager.js';
import { ALLOW_ALL_POLICY, toolCalls, writeConfig, type GateConfig, type HostSpec, type ToolCalls } from './mcp.js';
import { ScriptedHosts } from './scripted-host.js';

export interface InProcessGate extends ToolCalls {
  client: Client;
  /** The fake fleet: script its answers, read what it was asked. */
  hosts: ScriptedHosts;
  /** The server's task registry (to restore tasks of an "earlier run" into). */
  tasks: TaskManager;
  /** The tools as tools/list published them (the client checks results against their output schemas). */
  tools: Tool[];
  /** The temporary dir holding config/ and policies/. */
  dir: string;
  /** The gateway the server runs over, for a test that builds servers of its own on it. */
  gateway: Gateway;
  /** Everything the server logged so far (pino JSON lines, audit records included). */
  log(): string;
  /** Another client, over its own server on the same gateway, whose calls come from `principal`. */
  as(principal: Principal): Promise<ToolCalls & { client: Client; close(): Promise<void> }>;
  /** A client as `spec` says (its era, principal, capabilities, elicitation answers), over its own server. */
  connect(spec: ClientSpec): Promise<ToolCalls & { client: Client; close(): Promise<void> }>;
  close(): Promise<void>;
}

export interface ClientSpec {
  /** Whose calls they are; sshgate's own view (no principal) if absent. */
  principal?: Principal;
  /** 'modern': the stateless 2026-07-28 revision; 'legacy' (the default): the 2025-era handshake. */
  era?: 'legacy' | 'modern';
  /** Answers elicitation/create (2025 era) and embedded elicitations (2026-07-28); declares form elicitation. */
  onElicit?: (params: ElicitRequest['params']) => ElicitResult | Promise<ElicitResult>;
  /** More client capabilities (the Tasks extension's, say). */
  capabilities?: ClientCapabilities;
}

export interface InProcessOptions {
  /** The policy file's text; allow-everything-but-reboot by default. */
  policy?: string;
  /** Between TERM and KILL; the scripted host ends at TERM, so it only has to be passed on. */
  graceMs?: number;
}

/** Scripted hosts are never reached: their addresses are from TEST-NET-1 (RFC 5737). */
export function scriptedHost(n: number, tags: string[] = ['test'], alias = `h${n}`): HostSpec {
  return { alias, host: `192.0.2.${n}`, port: 22, tags };
}

/** A login key and a known_hosts with a host key for every host, as sshd.ts makes for a real fleet. */
function scriptedFleet(hosts: HostSpec[]): { user: string; userKeyPath: string; knownHostsPath: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sshgate-scripted-'));
  const userKeyPath = join(dir, 'user_ed25519');
  writeFileSync(userKeyPath, ed25519KeyPair().private, { mode: 0o600 });
  chmodSync(userKeyPath, 0o600);
  const hostKey = ed25519KeyPair().public.split(' ').slice(0, 2).join(' ');
  const knownHostsPath = join(dir, 'known_hosts');
  writeFileSync(knownHostsPath, hosts.map((h) => `${h.port === 22 ? h.host : `[${h.host}]:${h.port}`} ${hostKey}\n`).join(''));
  return { user: 'deploy', userKeyPath, knownHostsPath, dir };
}

export async function startInProcessGate(hostSpecs: HostSpec[], options: InProcessOptions = {}): Promise<InProcessGate> {
  const fleet = scriptedFleet(hostSpecs);
  const config: GateConfig = { hosts: hostSpecs, policy: options.policy ?? ALLOW_ALL_POLICY };
  const dir = writeConfig(fleet, config);
  let log = '';
  const logger = pino({ name: 'sshgate', level: 'info' }, { write: (line: string) => void (log += line) });
  const audit = createAuditor(logger);
  const tasks = new TaskManager({ onEnd: (t) => audit.taskEnd(t) });
  const hosts = new ScriptedHosts();
  const gateway = await Gateway.create({
    paths: {
      configDir: join(dir, 'config'),
      policyPath: join(dir, 'policies'),
      keysDir: join(dir, 'config', 'keys'),
      secretsDir: join(dir, 'secrets'),
    },
    env: {},
    logger,
    audit,
    tasks,
    pool: hosts,
    ...(options.graceMs !== undefined ? { graceMs: options.graceMs } : {}),
  });
  const connect = async (view: Gateway) => {
    const server = createServer({ gateway: view, logger, version: '0.0.0-test' });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const client = new Client({ name: 'sshgate-in-process-tests', version: '1.0.0' });
    await client.connect(clientSide);
    return { server, client };
  };
  // One per gate, as one serve shares it between the servers it builds.
  const taskHandles = new TaskHandles();
  const connectSpec = async (spec: ClientSpec) => {
    const view = spec.principal ? gateway.forCaller({ principal: spec.principal }) : gateway;
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    // The SDK's own entry decides the era from the client's opening, as `serve` over stdio does.
    const handle = serveStdio(({ era }) => createServer({ gateway: view, logger, version: '0.0.0-test', era, taskHandles }), {
      transport: serverSide,
    });
    const capabilities: ClientCapabilities = { ...spec.capabilities, ...(spec.onElicit ? { elicitation: { form: {} } } : {}) };
    const client = new Client(
      { name: 'sshgate-in-process-tests', version: '1.0.0' },
      { capabilities, ...(spec.era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {}) },
    );
    const answer = spec.onElicit;
    if (answer) client.setRequestHandler('elicitation/create', (request) => answer(request.params));
    await client.connect(clientSide);
    await client.listTools();
    return { client, close: () => client.close().then(() => handle.close()) };
  };
  const { server, client } = await connect(gateway);
  const others: { close(): Promise<void> }[] = [];
  // The SDK's Client checks a result's structuredContent against the tool's outputSchema only
  // for tools it has listed: listing them once makes every call below a schema check.
  const { tools } = await client.listTools();
  return {
    client,
    hosts,
    tasks,
    tools,
    dir,
    gateway,
    log: () => log,
    ...toolCalls(client),
    async connect(spec) {
      const c = await connectSpec(spec);
      others.push(c);
      return { ...toolCalls(c.client), ...c };
    },
    async as(principal) {
      const other = await connect(gateway.forCaller({ principal }));
      const close = async () => {
        await other.client.close();
        await other.server.close();
      };
      others.push({ close });
      return { ...toolCalls(other.client), client: other.client, close };
    },
    async close() {
      await tasks.shutdown();
      for (const o of others) await o.close();
      await client.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
      rmSync(fleet.dir, { recursive: true, force: true });
    },
  };
}

/** The JSON records of the log, parsed. */
export function logRecords(gate: Pick<InProcessGate, 'log'>): Record<string, unknown>[] {
  return gate
    .log()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
