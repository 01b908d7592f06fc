/**
 * A rolldown plugin for both bundles (rolldown.config.mjs, rolldown.snapshot.mjs): the MCP server
 * SDK's checks of JSON-RPC messages ask src/mcp/wire-checks.ts first and their zod schemas only
 * when it is not certain. The SDK checks each message it reads and sends several times over
 * (`isJSONRPCRequest`, `isJSONRPCResultResponse`…, each a zod `safeParse`, a failed one building
 * its issues), ~0.15 ms of a warm call's path from the request read to the answer written
 * (docs/benchmarks.md). The SDK's answers do not change: where a quick check answers, it is the
 * answer the schema gives (test/unit/mcp/wire-checks.test.ts holds them side by side).
 *
 * The hunks below must each match exactly once in the installed SDK, or the build fails and says
 * which: a new SDK release is read again before its hunks are changed. Running from the sources
 * (the unit tests), the SDK is as npm installed it; the end-to-end tests run the bundle.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';

/**
 * The SDK release the hunks and the quick checks were written against: another one fails the build
 * until both are read again against its schemas (a hunk may still match where a schema changed).
 */
export const PATCHED_SDK_VERSION = '2.4.0';

/** Which of the SDK's files each hunk is in, by the end of its path. */
export const FILES = {
  src: /[\\/]@modelcontextprotocol[\\/]server[\\/]dist[\\/]src-[^\\/]+\.mjs$/,
  index: /[\\/]@modelcontextprotocol[\\/]server[\\/]dist[\\/]index\.mjs$/,
};

const guard = (name, schema, quick) => [
  `const ${name} = (value) => ${schema}.safeParse(value).success;`,
  `const ${name} = (value) => ${quick}(value) ?? ${schema}.safeParse(value).success;`,
];

/** [file, the text as the SDK has it, the text it becomes]. */
export const HUNKS = [
  ['src', ...guard('isJSONRPCRequest', 'JSONRPCRequestSchema', 'quickRequest')],
  ['src', ...guard('isJSONRPCNotification', 'JSONRPCNotificationSchema', 'quickNotification')],
  ['src', ...guard('isJSONRPCResultResponse', 'JSONRPCResultResponseSchema', 'quickResultResponse')],
  ['src', ...guard('isJSONRPCErrorResponse', 'JSONRPCErrorResponseSchema', 'quickErrorResponse')],
  ['src', ...guard('isJSONRPCResponse', 'JSONRPCResponseSchema', 'quickResponse')],
  // Asked of every message of every POST by the Streamable HTTP transport.
  ['src', ...guard('isInitializeRequest', 'InitializeRequestSchema', 'quickInitializeRequest')],
  ['src', ...guard('isInitializedNotification', 'InitializedNotificationSchema', 'quickInitializedNotification')],
  // stdio's reader (deserializeMessage) and parseJSONRPCMessage.
  ['src', 'return JSONRPCMessageSchema.parse(JSON.parse(line));', 'return parsedMessage(JSON.parse(line));'],
  [
    'src',
    'function parseJSONRPCMessage(value) {\n\treturn JSONRPCMessageSchema.parse(value);',
    'function parseJSONRPCMessage(value) {\n\treturn parsedMessage(value);',
  ],
  // The Streamable HTTP transport's reader of a POST's body.
  [
    'index',
    'rawMessage.map((msg) => JSONRPCMessageSchema.parse(msg)) : [JSONRPCMessageSchema.parse(rawMessage)]',
    'rawMessage.map((msg) => parsedMessage(msg)) : [parsedMessage(rawMessage)]',
  ],
];

/** What each changed file gets: the quick checks, and the message parser that asks them first. */
function prelude(checks) {
  return (
    `import { quickErrorResponse, quickInitializedNotification, quickInitializeRequest, quickMessage, quickNotification, quickRequest, quickResponse, quickResultResponse } from ${JSON.stringify(checks)};\n` +
    'const parsedMessage = (value) => (quickMessage(value) ? value : JSONRPCMessageSchema.parse(value));\n'
  );
}

/**
 * `code` of an SDK file (`file`: a key of FILES) with its hunks applied; throws, naming the hunk,
 * if one does not match exactly once.
 */
export function applyHunks(file, code, checks) {
  let out = code;
  for (const [where, before, after] of HUNKS) {
    if (where !== file) continue;
    const at = out.indexOf(before);
    if (at < 0 || out.indexOf(before, at + 1) >= 0)
      throw new Error(
        `sdk-wire-checks: "${before.split('\n')[0]}" is not in the MCP server SDK's ${file} file exactly once; ` +
          `the hunks were written for ${PATCHED_SDK_VERSION} (scripts/sdk-wire-checks.mjs)`,
      );
    out = out.slice(0, at) + after + out.slice(at + before.length);
  }
  return prelude(checks) + out;
}

/** The version of the MCP server SDK installed beside the project in `root`. */
export function installedSdkVersion(root = process.cwd()) {
  const entry = createRequire(join(root, 'package.json')).resolve('@modelcontextprotocol/server');
  return JSON.parse(readFileSync(join(dirname(dirname(entry)), 'package.json'), 'utf8')).version;
}

/** The plugin; `checks`: the path of the built wire-checks module (tsc's, in build/). */
export function sdkWireChecks(checks = resolve('build/mcp/wire-checks.js')) {
  const changed = new Set();
  return {
    name: 'sdk-wire-checks',
    buildStart() {
      const installed = installedSdkVersion();
      if (installed !== PATCHED_SDK_VERSION)
        this.error(
          `sdk-wire-checks: the MCP server SDK is ${installed}, the hunks and src/mcp/wire-checks.ts were written for ${PATCHED_SDK_VERSION}; ` +
            'read both again against its schemas, then change PATCHED_SDK_VERSION (scripts/sdk-wire-checks.mjs)',
        );
    },
    transform(code, id) {
      const file = Object.keys(FILES).find((k) => FILES[k].test(id));
      if (!file) return undefined;
      changed.add(file);
      return { code: applyHunks(file, code, checks), map: null };
    },
    buildEnd(error) {
      if (error) return;
      const missed = Object.keys(FILES).filter((k) => !changed.has(k));
      if (missed.length > 0) this.error(`sdk-wire-checks: the MCP server SDK's ${missed.join(', ')} file was not in the bundle`);
    },
  };
}
