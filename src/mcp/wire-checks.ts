/**
 * Quick answers to the MCP SDK's checks of JSON-RPC messages, put in front of its zod schemas in
 * the bundle (scripts/sdk-wire-checks.mjs). The SDK checks every message it reads and sends with
 * `safeParse`, several times each (is it a request? a result? an error?), and a failed zod parse
 * builds its issues before it answers false: ~0.15 ms of a warm call's path, read to answer.
 *
 * Each check answers only where the answer is certain by the SDK's own schemas (core's
 * schemas.ts, all four `.strict()`): true for the plain shape of its kind, false for a key the
 * kind does not have or one it must have missing, a wrong `jsonrpc`, a field of the wrong type.
 * Anything else — an `_meta` anywhere, an id that is not a safe integer or a string, an object
 * that is not plain — is `undefined`, and the SDK's schema decides as before.
 */

/** true or false when certain, undefined to leave it to the SDK's schema. */
export type Quick = boolean | undefined;

type Plain = Record<string, unknown>;

const REQUEST_KEYS = new Set(['jsonrpc', 'id', 'method', 'params']);
const NOTIFICATION_KEYS = new Set(['jsonrpc', 'method', 'params']);
const RESULT_KEYS = new Set(['jsonrpc', 'id', 'result']);
const ERROR_KEYS = new Set(['jsonrpc', 'id', 'error']);
const ERROR_OBJECT_KEYS = new Set(['code', 'message', 'data']);

/** A request: `{ jsonrpc: "2.0", id, method, params? }`. */
export function quickRequest(value: unknown): Quick {
  return quickCall(value, REQUEST_KEYS);
}

/** A notification: `{ jsonrpc: "2.0", method, params? }`, no id. */
export function quickNotification(value: unknown): Quick {
  return quickCall(value, NOTIFICATION_KEYS);
}

/** A request or a notification, by its keys: with an id (which it then must have) or without. */
function quickCall(value: unknown, keys: ReadonlySet<string>): Quick {
  const v = plain(value);
  if (!v) return undefined;
  const shape = keysWithin(v, keys);
  if (shape !== true) return shape;
  if (!('method' in v) || v.jsonrpc !== '2.0' || typeof v.method !== 'string') return false;
  return and(keys.has('id') ? requestId(v.id) : true, params(v));
}

/** A result: `{ jsonrpc: "2.0", id, result }`, the result an object. */
export function quickResultResponse(value: unknown): Quick {
  const v = plain(value);
  if (!v) return undefined;
  const shape = keysWithin(v, RESULT_KEYS);
  if (shape !== true) return shape;
  if (!('id' in v) || !('result' in v) || v.jsonrpc !== '2.0') return false;
  // A result's _meta is any object: its one known key, serverInfo, is caught (never fails) rather
  // than checked. So a 2026-07-28 answer, which carries it, is a result all the same.
  const result = plain(v.result);
  const meta = result && '_meta' in result ? plain(result._meta) : true;
  return and(requestId(v.id), result && meta ? true : undefined);
}

/** An error: `{ jsonrpc: "2.0", id?, error: { code, message, data? } }`. */
export function quickErrorResponse(value: unknown): Quick {
  const v = plain(value);
  if (!v) return undefined;
  const shape = keysWithin(v, ERROR_KEYS);
  if (shape !== true) return shape;
  if (!('error' in v) || v.jsonrpc !== '2.0') return false;
  const error = plain(v.error);
  const certain = error && Number.isSafeInteger(error.code) && typeof error.message === 'string' ? true : undefined;
  return and('id' in v ? requestId(v.id) : true, certain);
}

/**
 * The 2025-era opening request (`initialize`), which the Streamable HTTP transport looks for in
 * every POST: false for a plain object with another method; the schema judges the rest.
 */
export function quickInitializeRequest(value: unknown): Quick {
  return otherMethod(value, 'initialize') ? false : undefined;
}

/** The client's `notifications/initialized`: false for a plain object with another method. */
export function quickInitializedNotification(value: unknown): Quick {
  return otherMethod(value, 'notifications/initialized') ? false : undefined;
}

/** Whether the value is a plain object whose method is not `method` (the schema's literal). */
function otherMethod(value: unknown, method: string): boolean {
  const v = plain(value);
  return v !== undefined && v.method !== method;
}

/** A result or an error. */
export function quickResponse(value: unknown): Quick {
  const result = quickResultResponse(value);
  if (result === true) return true;
  const error = quickErrorResponse(value);
  if (error === true) return true;
  return result === false && error === false ? false : undefined;
}

/**
 * Whether the value is certainly a message of one of the four kinds, and so what the SDK's
 * message schema would give back for it (an equal object); false when that is not certain.
 */
export function quickMessage(value: unknown): boolean {
  if (quickRequest(value) === true || quickNotification(value) === true) return givenBack((value as Plain).params);
  // A result's caught serverInfo may come back changed (undefined where it is not one).
  if (quickResultResponse(value) === true)
    return givenBack((value as { result: Plain }).result) && !('_meta' in (value as { result: Plain }).result);
  // The schema's error object is not strict: it would give it back without keys it does not know.
  return quickErrorResponse(value) === true && keysWithin((value as { error: Plain }).error, ERROR_OBJECT_KEYS) === true;
}

/**
 * Whether the schema gives this loose object (params, a result) back with every key it has: its
 * catch-all copies each key but an own `__proto__`, which JSON.parse makes from `"__proto__"`.
 */
function givenBack(loose: unknown): boolean {
  return loose === undefined || !Object.hasOwn(loose as object, '__proto__');
}

/** The value as a record, when it is a plain object (as JSON.parse makes them); else undefined. */
function plain(value: unknown): Plain | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null ? (value as Plain) : undefined;
}

/** false for a key outside `keys` (the schemas are strict), undefined for a symbol key, else true. */
function keysWithin(v: Plain, keys: ReadonlySet<string>): Quick {
  if (Object.getOwnPropertySymbols(v).length > 0) return undefined;
  for (const key of Object.keys(v)) if (!keys.has(key)) return false;
  // A key that is there but undefined (never from JSON) is the schema's to judge.
  for (const key of keys) if (key in v && v[key] === undefined) return undefined;
  return true;
}

/** A string, or a safe integer (the schema's `z.number().int()`); other numbers are the schema's. */
function requestId(id: unknown): Quick {
  if (typeof id === 'string' || Number.isSafeInteger(id)) return true;
  return typeof id === 'number' ? undefined : false;
}

/** Absent, or a plain object without _meta (whose parts the schema checks); else the schema's. */
function params(v: Plain): Quick {
  if (!('params' in v)) return true;
  const p = plain(v.params);
  return p && !('_meta' in p) ? true : undefined;
}

function and(a: Quick, b: Quick): Quick {
  if (a === false || b === false) return false;
  return a === true && b === true ? true : undefined;
}
