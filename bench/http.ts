/**
 * MCP over Streamable HTTP beside stdio, in one run, on one loopback fleet: one `serve --http` and
 * stdio servers with the same config and policy. First the warm `ssh_run "true"` round trip, the
 * transports' calls alternated, in both protocol eras (the SDK client's default, a 2025-era
 * session, and the stateless 2026-07-28 revision), and with bare clients (line-client.ts,
 * http-line-client.ts: what the server's two paths cost, without the SDK client's); then 1, 10,
 * 40 and 100 agents at once, each making BENCH_HTTP_CALLS calls one after another: over HTTP
 * every agent is a client of its own (a session, keep-alive connections), and the reference is one
 * stdio server taking the same number of calls at once over its one pipe. Figures only; part of `npm run bench`
 * (BENCH_ONLY=http).
 *
 * Ten hosts, and ten places per host (max_concurrent_per_host: 10), agent i on host i mod 10: at
 * 100 agents no call waits for a place, so what is measured is the server and its transport, not
 * the policy's queue (with the default 4 places on one host, 40 agents measure the queue).
 * BENCH_HTTP_HOSTS and BENCH_HTTP_PLACES change both; BENCH_HTTP_AGENTS the levels.
 *
 * Every agent runs in this one process, beside the servers and the sshd processes: on a small
 * machine the clients are a bound of their own, so each row also gives the server's and the
 * clients' CPU time per call and this process's event-loop delay.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Client, StreamableHTTPClientTransport, type ClientOptions } from '@modelcontextprotocol/client';
import { ALLOW_ALL_POLICY, removeConfig, startGate, writeConfig, type Gate } from '../test/support/mcp.js';
import { startHttpLineClient } from './http-line-client.js';
import { startLineClient } from './line-client.js';
import { startServeHttp, type ServeHttp } from '../test/support/serve-http.js';
import { startFleet } from '../test/support/sshd.js';
import { BENCH_LIMITS, median, percentile, SERVER_NODE_ARGS, type Section } from './stats.js';

const N = Number(process.env.BENCH_N ?? 300);
const CALLS = Number(process.env.BENCH_HTTP_CALLS ?? 50);
const AGENTS = (process.env.BENCH_HTTP_AGENTS ?? '1,10,40,100').split(',').map(Number);
const HOSTS = Number(process.env.BENCH_HTTP_HOSTS ?? 10);
/** max_concurrent_per_host: with as many places as agents per host, no call waits in the policy's queue. */
const PLACES = Number(process.env.BENCH_HTTP_PLACES ?? 10);
const TOKEN = 'bench-token-0123456789abcdef';
/** Calls per warm row for its CPU figures. */
const CPU_CALLS = 300;
const POLICY = `limits: { max_concurrent_per_host: ${PLACES}, ${BENCH_LIMITS} }\n${ALLOW_ALL_POLICY}`;
const MODERN: ClientOptions = { versionNegotiation: { mode: { pin: '2026-07-28' } } };
/** The SDK client's default: the 2025-era initialize handshake and a session. */
const LEGACY: ClientOptions = {};

/** Something that runs `true` on a host and resolves when the result is back. */
interface Caller {
  run(alias: string): Promise<void>;
  close(): Promise<void>;
}

async function ssh(call: (alias: string) => Promise<{ isError?: boolean; content: unknown }>, alias: string): Promise<void> {
  const r = await call(alias);
  if (r.isError) throw new Error(JSON.stringify(r.content));
}

function stdioCaller(gate: Gate): Caller {
  return { run: (alias) => ssh((a) => gate.call('ssh_run', { alias: a, command: 'true' }), alias), close: () => gate.close() };
}

/** A bare client (line-client.ts, http-line-client.ts) as a Caller: the transports' own cost, no SDK client's. */
function bareCaller(c: {
  call(name: string, args: Record<string, unknown>): Promise<{ isError?: boolean; content?: unknown }>;
  close(): Promise<void>;
}): Caller {
  return {
    run: (alias) => ssh(async (a) => ({ content: undefined, ...(await c.call('ssh_run', { alias: a, command: 'true' })) }), alias),
    close: () => c.close(),
  };
}

async function httpCaller(server: ServeHttp, options: ClientOptions): Promise<Caller> {
  const client = new Client({ name: 'bench-agent', version: '1' }, options);
  const transport = new StreamableHTTPClientTransport(new URL(server.url), {
    requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
  });
  await client.connect(transport);
  return {
    run: (alias) => ssh((a) => client.callTool({ name: 'ssh_run', arguments: { alias: a, command: 'true' } }), alias),
    async close() {
      // A 2025-era session is ended, not left to idle out: the next round's agents open their own.
      if (transport.sessionId) await transport.terminateSession().catch(() => undefined);
      await client.close();
    },
  };
}

/** The CPU time (user + system, ms) a process has used so far. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

interface Load {
  agents: number;
  transport: string;
  calls: number;
  failed: number;
  perSecond: number;
  p50: number;
  p99: number;
  /** The server's CPU time per call, ms. */
  serverCpu: number;
  /** This process's (the clients') CPU time per call, ms. */
  clientCpu: number;
  /** This process's event-loop delay, p99 ms: how late the clients saw their answers. */
  clientLoopP99: number;
  /** Over HTTP: how long the agents took to open their sessions, all at once (ms). */
  opening?: number;
}

/** `agents` callers at once, each making CALLS calls one after another, agent i on host i mod HOSTS. */
async function load(transport: string, agents: Caller[], serverPid: number): Promise<Load> {
  const alias = (i: number) => `h${(i % HOSTS) + 1}`;
  // Every agent's connection and host connection are warm before the clock starts.
  await Promise.all(agents.map(async (a, i) => (await a.run(alias(i)), await a.run(alias(i)))));
  const latencies: number[] = [];
  let failed = 0;
  const loop = monitorEventLoopDelay({ resolution: 5 });
  const server0 = cpuMs(serverPid);
  const client0 = process.cpuUsage();
  loop.enable();
  const t0 = performance.now();
  await Promise.all(
    agents.map(async (a, i) => {
      for (let k = 0; k < CALLS; k++) {
        const s = performance.now();
        try {
          await a.run(alias(i));
          latencies.push(performance.now() - s);
        } catch (err) {
          if (failed++ === 0)
            process.stderr.write(
              `bench: http: ${transport}, ${agents.length} agents: a call failed: ${String(err).slice(0, 300)}${causeOf(err)}\n`,
            );
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  loop.disable();
  const client = process.cpuUsage(client0);
  const calls = agents.length * CALLS;
  return {
    agents: agents.length,
    transport,
    calls,
    failed,
    perSecond: (calls - failed) / seconds,
    p50: median(latencies),
    p99: percentile(latencies, 0.99),
    serverCpu: (cpuMs(serverPid) - server0) / calls,
    clientCpu: (client.user + client.system) / 1000 / calls,
    clientLoopP99: loop.percentile(99) / 1e6,
  };
}

export async function http(): Promise<Section> {
  const fleet = await startFleet(HOSTS, { subnet: 141 });
  const dir = writeConfig(fleet, { hosts: fleet.hosts, policy: POLICY });
  // The default log level: every call's two audit records are part of what a call costs.
  const env = { SSHGATE_LOG_LEVEL: 'info' };
  // All agents come from one address here, and a 2025-era SDK client holds two connections (its
  // session's GET stream and its calls'): past 32 agents the default per-client limit of 64 would
  // close idle keep-alive connections under clients about to reuse them, and refuse new ones.
  const serverEnv = { ...env, SSHGATE_TOKEN: TOKEN, SSHGATE_MAX_CONNECTIONS_PER_CLIENT: '1024' };
  const server = await startServeHttp(dir, { env: serverEnv, nodeArgs: SERVER_NODE_ARGS });
  /** A warm row: its caller, the server's pid, the alternated times and the CPU block's figures. */
  const warm: { label: string; caller: Caller; pid: number; times: number[]; cpu?: { client: number; server: number } }[] = [];
  const loads: Load[] = [];
  try {
    const httpPid = server.process.pid as number;
    const stdioRow = async (label: string, options: ClientOptions) => {
      const gate = await startGate(dir, env, SERVER_NODE_ARGS, options);
      return { label, caller: stdioCaller(gate), pid: gate.transport.pid as number, times: [] };
    };
    const lines = await startLineClient(dir, env, SERVER_NODE_ARGS);
    warm.push(
      await stdioRow('stdio, 2025-era session', LEGACY),
      { label: 'HTTP, 2025-era session', caller: await httpCaller(server, LEGACY), pid: httpPid, times: [] },
      await stdioRow('stdio, 2026-07-28', MODERN),
      { label: 'HTTP, 2026-07-28', caller: await httpCaller(server, MODERN), pid: httpPid, times: [] },
      { label: 'stdio, bare client, 2025-era session', caller: bareCaller(lines), pid: lines.pid, times: [] },
      {
        label: 'HTTP, bare client, 2025-era session',
        caller: bareCaller(await startHttpLineClient(server.url, TOKEN)),
        pid: httpPid,
        times: [],
      },
    );
    for (let i = 0; i < 50; i++) for (const w of warm) await w.caller.run('h1');
    // Alternated call by call, so that whatever else the machine does falls on all of them alike.
    for (let i = 0; i < N; i++) {
      for (const w of warm) {
        const t0 = performance.now();
        await w.caller.run('h1');
        w.times.push(performance.now() - t0);
      }
    }
    // CPU per call, row by row in blocks: alternated call by call, what a call leaves to do after
    // its answer (an SSE stream's end, say) would be counted in the next row's call.
    for (const w of warm) {
      const [server0, client0] = [cpuMs(w.pid), process.cpuUsage()];
      for (let i = 0; i < CPU_CALLS; i++) await w.caller.run('h1');
      const client = process.cpuUsage(client0);
      w.cpu = { client: (client.user + client.system) / 1000 / CPU_CALLS, server: (cpuMs(w.pid) - server0) / CPU_CALLS };
    }
    for (const w of warm) await w.caller.close();

    // One stdio server for the references, started once: its pool stays warm between rounds as
    // the HTTP server's does.
    const gate = await startGate(dir, env, SERVER_NODE_ARGS, LEGACY);
    try {
      for (const n of AGENTS) {
        process.stderr.write(`bench: http: ${n} agents…\n`);
        const stdio = stdioCaller(gate);
        loads.push(
          await load(
            'stdio (one client, calls at once)',
            Array.from({ length: n }, () => stdio),
            gate.transport.pid as number,
          ),
        );
        const t0 = performance.now();
        const agents = await Promise.all(Array.from({ length: n }, () => httpCaller(server, LEGACY)));
        const opening = performance.now() - t0;
        try {
          loads.push({ ...(await load('HTTP (a session per agent)', agents, server.process.pid as number)), opening });
        } finally {
          await Promise.all(agents.map((a) => a.close()));
        }
      }
    } finally {
      await gate.close();
    }
  } finally {
    await server.stop();
    await fleet.stop();
    removeConfig(dir);
  }

  const table = [
    '| path | runs | median ms | p90 ms | HTTP − stdio | HTTP / stdio | client CPU ms/call | server CPU ms/call |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const cpu = (w: (typeof warm)[0]) => `${w.cpu?.client.toFixed(2) ?? '—'} | ${w.cpu?.server.toFixed(2) ?? '—'}`;
  const bars: Section['bars'] = [];
  for (let i = 0; i < warm.length; i += 2) {
    const [s, h] = [warm[i], warm[i + 1]] as [(typeof warm)[0], (typeof warm)[0]];
    const [ms, mh] = [median(s.times), median(h.times)];
    table.push(`| ${s.label} | ${s.times.length} | ${ms.toFixed(2)} | ${percentile(s.times, 0.9).toFixed(2)} | — | — | ${cpu(s)} |`);
    table.push(
      `| ${h.label} | ${h.times.length} | ${mh.toFixed(2)} | ${percentile(h.times, 0.9).toFixed(2)} | ${signed(mh - ms)} ms | ${(mh / ms).toFixed(3)}× | ${cpu(h)} |`,
    );
    bars.push({
      bar: `warm ssh_run over HTTP within 0.5 ms of stdio (${h.label.slice(6)})`,
      met: mh - ms <= 0.5,
      // Three places: a figure that rounds to the bar must not read as on it.
      figure: `${signed(mh - ms, 3)} ms`,
    });
  }
  table.push(
    '',
    `CPU per call: ${CPU_CALLS} calls more per row, row after row, after the alternated ones: the client's (this process) and the server's (its /proc stat, 10 ms ticks).`,
    '',
    `${CALLS} calls of \`ssh_run "true"\` per agent, agent i on host h(i mod ${HOSTS}); the stdio reference is one server taking as many calls at once over its pipe.`,
    '',
    '| agents | transport | sessions opened in ms | calls/s | p50 ms | p99 ms | p99 / p50 | failed | server CPU ms/call | client CPU ms/call | client loop delay p99 ms | calls/s vs stdio |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const r of loads) {
    const ref = loads.find((l) => l.agents === r.agents && l.transport.startsWith('stdio'));
    table.push(
      `| ${r.agents} | ${r.transport} | ${r.opening?.toFixed(0) ?? '—'} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${(r.p99 / r.p50).toFixed(1)}× | ${r.failed} | ${r.serverCpu.toFixed(2)} | ${r.clientCpu.toFixed(2)} | ${r.clientLoopP99.toFixed(1)} | ${ref ? (r.perSecond / ref.perSecond).toFixed(2) : '—'}× |`,
    );
  }
  const at40 = loads.filter((l) => l.agents === 40);
  const [s40, h40] = [at40.find((l) => l.transport.startsWith('stdio')), at40.find((l) => l.transport.startsWith('HTTP'))];
  if (s40 && h40)
    bars.push({
      bar: '40 agents over HTTP: p99 within 2× of stdio taking as many calls at once',
      met: h40.p99 <= 2 * s40.p99 && h40.failed === 0,
      figure: `p99 ${h40.p99.toFixed(0)} vs ${s40.p99.toFixed(0)} ms (${(h40.p99 / s40.p99).toFixed(2)}×), ${h40.perSecond.toFixed(0)} vs ${s40.perSecond.toFixed(0)} calls/s`,
    });
  return { title: `MCP over Streamable HTTP beside stdio (N=${N} alternated; ${HOSTS} hosts, ${PLACES} places each)`, table, bars };
}

function signed(x: number, places = 2): string {
  return `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(places)}`;
}

/** What undici's "fetch failed" hides: the socket error under it (ECONNRESET, other side closed…). */
function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause ? ` (cause: ${cause.code ?? ''} ${String(cause.message).slice(0, 200)})` : '';
}
