/**
 * `npm run build:snapshot`, after `npm run build`: src/snapshot.ts (as tsc built it) and everything
 * it imports in one CommonJS script, dist/snapshot.cjs, which `node --build-snapshot` runs to make
 * the Docker image's startup snapshot (src/snapshot.ts, docs/architecture.md "Start"). A snapshot's
 * script is one file that may require only Node's own modules, so the bundle holds the modules the
 * ESM build leaves in chunks, and a few modules are reached through objects that load them on first
 * use instead of at the top of the script:
 *
 * - node:http, node:https, node:http2: their parser bindings cannot be written into a snapshot
 *   (`node --build-snapshot` stops at "global handle not serialized"), and a stdio server never
 *   needs them;
 * - ssh2: found beside the bundle when first used (node_modules), after its changes are in place
 *   (src/ssh/ssh2-certificates.ts); only the demo imports it as a module, src/ssh requires it.
 *
 * Each such object has a getter per name the module exports (as this Node lists them now), so that
 * `http.createServer(…)` and `x instanceof http2.Http2ServerRequest` reach the real module.
 */
import { createRequire } from 'node:module';
import { RESOLVE } from './rolldown.config.mjs';
import { sdkWireChecks } from './scripts/sdk-wire-checks.mjs';

const require = createRequire(import.meta.url);
const ON_FIRST_USE = {
  'node:http': "require('node:http')",
  'node:https': "require('node:https')",
  'node:http2': "require('node:http2')",
  http: "require('node:http')",
  https: "require('node:https')",
  http2: "require('node:http2')",
  ssh2: "require('node:module').createRequire(__filename)('ssh2')",
};
const PREFIX = '\0on-first-use:';

const onFirstUse = {
  name: 'on-first-use',
  resolveId(id, importer) {
    // The real module, as the object requires it on first use.
    if (importer?.startsWith(PREFIX)) return { id, external: true };
    if (Object.hasOwn(ON_FIRST_USE, id)) return PREFIX + id;
    return undefined;
  },
  load(id) {
    if (!id.startsWith(PREFIX)) return undefined;
    const name = id.slice(PREFIX.length);
    const names = Object.keys(require(name === 'ssh2' ? 'ssh2' : `node:${name.replace(/^node:/, '')}`));
    return `let loaded;
const load = () => (loaded ??= ${ON_FIRST_USE[name]});
const names = ${JSON.stringify(names)};
const out = {};
for (const key of names) Object.defineProperty(out, key, { enumerable: true, get: () => load()[key] });
module.exports = out;
`;
  },
};

export default {
  input: 'build/snapshot.js',
  platform: 'node',
  external: [/^ssh2\//, /^web-tree-sitter(\/|$)/],
  resolve: RESOLVE,
  output: { file: 'dist/snapshot.cjs', format: 'cjs', codeSplitting: false },
  plugins: [onFirstUse, sdkWireChecks()],
};
