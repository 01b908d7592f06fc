import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isInitializedNotification,
  isInitializeRequest,
  isJSONRPCResponse,
  isJSONRPCResultResponse,
  parseJSONRPCMessage,
} from '@modelcontextprotocol/server';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  quickErrorResponse,
  quickMessage,
  quickNotification,
  quickRequest,
  quickInitializedNotification,
  quickInitializeRequest,
  quickResponse,
  quickResultResponse,
  type Quick,
} from '../../../src/mcp/wire-checks.js';
// @ts-expect-error -- a build script in plain JavaScript, without types
import { applyHunks, FILES, HUNKS, installedSdkVersion, PATCHED_SDK_VERSION } from '../../../scripts/sdk-wire-checks.mjs';

/** Each quick check beside the SDK's own (here as npm installed it: zod decides). */
const PAIRS: [string, (v: unknown) => Quick, (v: unknown) => boolean][] = [
  ['request', quickRequest, isJSONRPCRequest],
  ['notification', quickNotification, isJSONRPCNotification],
  ['result', quickResultResponse, isJSONRPCResultResponse],
  ['error', quickErrorResponse, isJSONRPCErrorResponse],
  ['response', quickResponse, isJSONRPCResponse],
  ['initialize', quickInitializeRequest, isInitializeRequest],
  ['initialized', quickInitializedNotification, isInitializedNotification],
];

/** Values for each field: the plain valid ones most often, and every way to be wrong or unusual. */
const any = fc.jsonValue({ maxDepth: 2 });
const jsonrpc = fc.oneof({ weight: 6, arbitrary: fc.constant('2.0') }, fc.constantFrom('1.0', '2', 2, null), any);
const id = fc.oneof(
  { weight: 4, arbitrary: fc.integer() },
  { weight: 2, arbitrary: fc.string() },
  fc.constantFrom(0, -0, 1.5, 2 ** 53, -(2 ** 53), Number.MAX_SAFE_INTEGER, 1e300, null, true),
  any,
);
const method = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('tools/call', 'ping', '', 'initialize', 'notifications/initialized') },
  any,
);
const object = (extra: fc.Arbitrary<unknown>) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.dictionary(fc.constantFrom('name', 'arguments', 'content', 'x'), any, { maxKeys: 3 }) },
    fc.constantFrom({}, { _meta: {} }, { _meta: { progressToken: 1 } }, { _meta: { progressToken: 1.5 } }, { _meta: 5 }, { _meta: null }),
    fc.constantFrom([], null, 'x', 3, Object.create(null) as unknown, new Map() as unknown),
    extra,
  );
/** An own `__proto__` key, as JSON.parse makes it (a literal would set the prototype instead). */
const withOwnProto = fc.constantFrom(
  ...['{"__proto__":{"x":1},"a":1}', '{"__proto__":null}', '{"_meta":{},"__proto__":1}'].map((t) => JSON.parse(t) as unknown),
);
const params = object(fc.oneof(fc.constant({ name: 'ssh_run', arguments: { alias: 'h1', command: 'true' } }), withOwnProto));
const result = object(
  fc.oneof(
    fc.constantFrom(
      { _meta: { 'io.modelcontextprotocol/serverInfo': 1 } },
      { _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'sshgate', version: '1' } }, content: [] },
      { content: [{ type: 'text', text: 'x' }], structuredContent: { a: 1 } },
    ),
    withOwnProto,
  ),
);
const error = fc.oneof(
  { weight: 4, arbitrary: fc.record({ code: fc.integer(), message: fc.string() }) },
  fc.record(
    {
      code: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null)),
      message: fc.oneof(fc.string(), any),
      data: any,
      other: any,
    },
    { requiredKeys: [] },
  ),
  any,
);
const extra = fc.oneof(any, fc.constant(undefined));
const message = fc.record({ jsonrpc, id, method, params, result, error, extra, _meta: any }, { requiredKeys: [] });
/** Mostly near the four kinds: the keys of one kind, sometimes one more or one less. */
const kind = (keys: string[]) =>
  fc.record({ jsonrpc, id, method, params, result, error }, { requiredKeys: [] }).map((m) => {
    const out: Record<string, unknown> = {};
    for (const k of keys) if (k in m) out[k] = (m as Record<string, unknown>)[k];
    return out;
  });
const messages = fc.oneof(
  kind(['jsonrpc', 'id', 'method', 'params']),
  kind(['jsonrpc', 'method', 'params']),
  kind(['jsonrpc', 'id', 'result']),
  kind(['jsonrpc', 'id', 'error']),
  message,
  any,
);

describe('the quick checks in front of the SDK’s JSON-RPC schemas', () => {
  it('answer, where they answer, what the SDK’s schema answers; a message they pass parses to itself', () => {
    const answered = new Map<string, { true: number; false: number }>(PAIRS.map(([name]) => [name, { true: 0, false: 0 }]));
    let passed = 0;
    fc.assert(
      fc.property(messages, fc.boolean(), (m, viaJson) => {
        // As read off the wire (JSON.parse's objects), and as built in memory (what the SDK sends).
        const v: unknown = viaJson ? roundTrip(m) : m;
        for (const [name, quick, sdk] of PAIRS) {
          const q = quick(v);
          if (q === undefined) continue;
          expect(q, `${name}: ${show(v)}`).toBe(sdk(v));
          (answered.get(name) as { true: number; false: number })[q ? 'true' : 'false']++;
        }
        if (quickMessage(v)) {
          passed++;
          expect(canonical(parseJSONRPCMessage(v)), show(v)).toBe(canonical(v));
        }
      }),
      { numRuns: 20_000 },
    );
    // A check that never answers would pass the above: each answered both ways, many times.
    for (const [name, counts] of answered) {
      // (The opening's checks only ever say no: a yes is the schema's.)
      if (!['initialize', 'initialized'].includes(name)) expect(counts.true, name).toBeGreaterThan(200);
      expect(counts.false, name).toBeGreaterThan(200);
    }
    expect(passed).toBeGreaterThan(1000);
  });

  it.each([
    ['an own __proto__ key', '{"jsonrpc":"2.0","id":1,"method":"m","__proto__":{}}'],
    ['a constructor key', '{"jsonrpc":"2.0","id":1,"method":"m","constructor":1}'],
    ['a request with result', '{"jsonrpc":"2.0","id":1,"method":"m","result":{}}'],
    ['an error with a null id', '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}'],
    ['an error without id', '{"jsonrpc":"2.0","error":{"code":-32700,"message":"parse error"}}'],
    ['a notification with an id', '{"jsonrpc":"2.0","id":1,"method":"notifications/initialized"}'],
    ['a big id', '{"jsonrpc":"2.0","id":9007199254740993,"method":"m"}'],
    ['a negative zero id', '{"jsonrpc":"2.0","id":-0,"method":"m"}'],
    ['params with _meta', '{"jsonrpc":"2.0","id":1,"method":"m","params":{"_meta":{"progressToken":"t"}}}'],
    ['a result with _meta', '{"jsonrpc":"2.0","id":1,"result":{"_meta":{"io.modelcontextprotocol/serverInfo":{"name":1}}}}'],
    [
      'a result with a good serverInfo',
      '{"jsonrpc":"2.0","id":1,"result":{"_meta":{"io.modelcontextprotocol/serverInfo":{"name":"s","version":"1"}}}}',
    ],
    ['a result whose _meta is not an object', '{"jsonrpc":"2.0","id":1,"result":{"_meta":[1]}}'],
    ['params with an own __proto__', '{"jsonrpc":"2.0","id":1,"method":"m","params":{"__proto__":{"x":1},"a":1}}'],
    ['a notification’s params with an own __proto__', '{"jsonrpc":"2.0","method":"m","params":{"__proto__":1}}'],
    ['a result with an own __proto__', '{"jsonrpc":"2.0","id":1,"result":{"__proto__":{"x":1},"content":[]}}'],
    ['an error object with an own __proto__', '{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m","__proto__":{}}}'],
  ])('agree with the SDK on %s', (_name, line) => {
    const v: unknown = JSON.parse(line);
    for (const [name, quick, sdk] of PAIRS) {
      const q = quick(v);
      if (q !== undefined) expect(q, name).toBe(sdk(v));
    }
    if (quickMessage(v)) expect(canonical(parseJSONRPCMessage(v))).toBe(canonical(v));
  });

  it('answer for the common shapes, so the SDK’s schemas are not run for them', () => {
    expect(quickRequest({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'ssh_run', arguments: {} } })).toBe(true);
    expect(quickResultResponse({ jsonrpc: '2.0', id: 7, result: { content: [], structuredContent: {} } })).toBe(true);
    expect(quickRequest({ jsonrpc: '2.0', id: 7, result: {} })).toBe(false);
    expect(quickResultResponse({ jsonrpc: '2.0', id: 7, method: 'tools/call' })).toBe(false);
    expect(quickErrorResponse({ jsonrpc: '2.0', id: 7, error: { code: -32602, message: 'x' } })).toBe(true);
    expect(quickNotification({ jsonrpc: '2.0', method: 'notifications/progress', params: { progress: 1 } })).toBe(true);
    // The opening is the schema's to judge; every other call is not it.
    const init = {
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } },
    };
    expect(isInitializeRequest(init)).toBe(true);
    expect(quickInitializeRequest(init)).toBeUndefined();
    expect(quickInitializeRequest({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: {} })).toBe(false);
    const initialized = { jsonrpc: '2.0', method: 'notifications/initialized' };
    expect(isInitializedNotification(initialized)).toBe(true);
    expect(quickInitializedNotification(initialized)).toBeUndefined();
    expect(quickInitializedNotification({ jsonrpc: '2.0', method: 'notifications/cancelled' })).toBe(false);
    // A 2026-07-28 answer names its server in _meta: still a result, though not given back as it is.
    const modern = {
      jsonrpc: '2.0',
      id: 7,
      result: { content: [], _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'sshgate', version: '1' } } },
    };
    expect(quickResultResponse(modern)).toBe(true);
    expect(quickMessage(modern)).toBe(false);
  });
});

describe('the bundle’s hunks (scripts/sdk-wire-checks.mjs)', () => {
  const dist = dirname(createRequire(import.meta.url).resolve('@modelcontextprotocol/server'));
  const files = readdirSync(dist).map((f) => join(dist, f));
  it.each(Object.keys(FILES as Record<string, RegExp>))('each apply exactly once to the installed SDK’s %s file', (file) => {
    const path = files.filter((f) => (FILES as Record<string, RegExp>)[file]?.test(f));
    expect(path).toHaveLength(1);
    const code = readFileSync(path[0] as string, 'utf8');
    const changed = applyHunks(file, code, '/x/wire-checks.js') as string;
    for (const [where, before, after] of HUNKS as [string, string, string][]) {
      if (where !== file) continue;
      expect(changed).not.toContain(before);
      expect(changed).toContain(after);
    }
    expect(() => applyHunks(file, changed.replace(/^import .*\n.*\n/, ''), '/x/wire-checks.js')).toThrow(/exactly once/);
  });

  it('were written for the SDK installed (another release fails the build)', () => {
    expect(installedSdkVersion()).toBe(PATCHED_SDK_VERSION);
  });

  it('are in the built bundle', () => {
    const server = readdirSync('dist').filter((f) => f.startsWith('server-') && f.endsWith('.js'));
    const code = server.map((f) => readFileSync(join('dist', f), 'utf8')).join('\n');
    // A checker the bundle does not use is left out of it (isJSONRPCResponse): none is left unchanged.
    for (const [, before] of HUNKS as [string, string, string][]) expect(code).not.toContain(before);
    expect(code).toContain('const isJSONRPCRequest = (value) => quickRequest(value) ?? JSONRPCRequestSchema.safeParse(value).success;');
    // (The bundler numbers the two files' parsedMessage apart.)
    expect(code).toMatch(/return parsedMessage(\$\d+)?\(JSON\.parse\(line\)\);/);
    expect(code).toMatch(/\[parsedMessage(\$\d+)?\(rawMessage\)\]/);
  });
});

/** JSON with each object's keys sorted, own `__proto__` keys included (toEqual passes them over). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v !== 'object' || v === null) return JSON.stringify(v) ?? 'undefined';
  const keys = Object.keys(v).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

function roundTrip(v: unknown): unknown {
  const text = JSON.stringify(v);
  return text === undefined ? undefined : (JSON.parse(text) as unknown);
}

function show(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
