import { EventEmitter } from 'node:events';
import { InMemoryTransport, McpServer } from '@modelcontextprotocol/server';
import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import { beforeEach, describe, expect, it } from 'vitest';
import { AbandonedCalls, requestIds } from '../../../src/mcp/abandoned-calls.js';

/** A response as the HTTP server hands it over: it closes, finished or not. */
class Response extends EventEmitter {
  writableFinished = false;
}

/** The resume grace in these tests (30 s in the server). */
const GRACE_MS = 150;

let client: InMemoryTransport;
let calls: AbandonedCalls;
/** How each call of the `wait` tool ended: aborted, or answered after 5 s. */
let ended: Map<number, 'aborted' | 'answered'>;
let answered: Set<unknown>;

beforeEach(async () => {
  ended = new Map();
  answered = new Set();
  const server = new McpServer({ name: 'test', version: '1' });
  server.registerTool('wait', { description: 'waits for its cancel' }, (ctx) => {
    const id = Number(ctx.mcpReq.id);
    return new Promise((resolve) => {
      const timer = setTimeout(() => (ended.set(id, 'answered'), resolve({ content: [] })), 5000);
      // Listening only now: a cancel that came before must show as an aborted signal.
      if (ctx.mcpReq.signal.aborted) return (clearTimeout(timer), ended.set(id, 'aborted'), resolve({ content: [] }));
      ctx.mcpReq.signal.addEventListener('abort', () => (clearTimeout(timer), ended.set(id, 'aborted'), resolve({ content: [] })));
    });
  });
  let serverSide: InMemoryTransport;
  [client, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  calls = new AbandonedCalls(serverSide, GRACE_MS);
  client.onmessage = (m) => void ('id' in m && answered.add(m.id));
  await client.start();
  await client.send({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
  });
  await client.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
});

const call = (id: number): JSONRPCMessage => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'wait', arguments: {} } });
const settle = () => new Promise((r) => setTimeout(r, 20));

describe('AbandonedCalls', () => {
  it('cancels a call whose POST closed before the call reached the server', async () => {
    const res = new Response();
    calls.watch([7], res, false);
    res.emit('close');
    await client.send(call(7));
    await settle();
    expect(ended.get(7)).toBe('aborted');
    expect(answered.has(7)).toBe(false);
  });

  it('lets a call of a resumable stream run on for the grace period, and cancels it when no resume came', async () => {
    const res = new Response();
    calls.watch([12], res, false, () => true);
    await client.send(call(12));
    await settle();
    res.emit('close');
    await settle();
    expect(ended.has(12)).toBe(false);
    await new Promise((r) => setTimeout(r, GRACE_MS + 50));
    expect(ended.get(12)).toBe('aborted');
  });

  it('lets a call of a resumable stream run on when the client resumes within the grace period', async () => {
    const res = new Response();
    calls.watch([13], res, false, () => true);
    await client.send(call(13));
    await settle();
    res.emit('close');
    calls.resumed();
    await new Promise((r) => setTimeout(r, GRACE_MS + 50));
    expect(ended.has(13)).toBe(false);
  });

  it('cancels a call whose connection had closed before it was watched', async () => {
    calls.watch([8], new Response(), true);
    await client.send(call(8));
    await settle();
    expect(ended.get(8)).toBe('aborted');
  });

  it('cancels a running call when its POST closes unfinished', async () => {
    const res = new Response();
    calls.watch([9], res, false);
    await client.send(call(9));
    await settle();
    expect(ended.has(9)).toBe(false);
    res.emit('close');
    await settle();
    expect(ended.get(9)).toBe('aborted');
  });

  it('leaves a call alone when its POST was answered whole, and forgets a call never passed on', async () => {
    const res = new Response();
    const handled = calls.watch([10, 11], res, false);
    await client.send(call(10));
    handled();
    res.writableFinished = true;
    res.emit('close');
    // 11 was refused by the transport (never passed on): a later call reusing the id runs.
    await client.send(call(11));
    await settle();
    expect(ended.has(10)).toBe(false);
    expect(ended.has(11)).toBe(false);
  });

  it('takes the ids of requests only, from one message or a batch', () => {
    expect(requestIds(call(3))).toEqual([3]);
    expect(
      requestIds([call(4), { jsonrpc: '2.0', method: 'notifications/initialized' }, { jsonrpc: '2.0', id: 'x', method: 'ping' }]),
    ).toEqual([4, 'x']);
    expect(requestIds({ not: 'json-rpc' })).toEqual([]);
  });
});
