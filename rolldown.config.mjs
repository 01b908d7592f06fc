/**
 * `npm run build`, second step: tsc's modules (build/) bundled into dist/, the entry and one chunk
 * per module loaded lazily (serve, the HTTP transport, ssh2's users…), so that a start reads a few
 * files instead of some 500 (docs/architecture.md, "Start"). ssh2 and web-tree-sitter stay in
 * node_modules: ssh2 loads a native addon and WebAssembly of its own, and the grammar's .wasm files
 * are found beside their packages. The server SDK validates with its cfworker validator, not ajv
(src/mcp/sdk-shims.ts). Beside the bundle: the tools' published JSON Schemas, converted
 * from their zod schemas here rather than at every start (src/mcp/registry.ts). The SDK's checks
 * of JSON-RPC messages ask quick checks first (scripts/sdk-wire-checks.mjs).
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sdkWireChecks } from './scripts/sdk-wire-checks.mjs';

const publishedSchemas = {
  name: 'published-schemas',
  async writeBundle(options) {
    const { ToolRegistry, PUBLISHED_SCHEMAS_FILE } = await import('./build/mcp/registry.js');
    const { registerTools } = await import('./build/mcp/tools/index.js');
    const tools = new ToolRegistry();
    // Registering reads no gateway: handlers are closures over it, never called here.
    registerTools(tools, undefined);
    writeFileSync(join(options.dir, PUBLISHED_SCHEMAS_FILE), `${JSON.stringify(tools.converted())}\n`);
  },
};

/** The SDK's Node shims without ajv (src/mcp/sdk-shims.ts), for this bundle and the snapshot's (rolldown.snapshot.mjs). */
export const RESOLVE = { alias: { '@modelcontextprotocol/server/_shims': resolve('build/mcp/sdk-shims.js') } };

export default {
  input: 'build/cli.js',
  platform: 'node',
  external: [/^ssh2(\/|$)/, /^web-tree-sitter(\/|$)/],
  resolve: RESOLVE,
  output: { dir: 'dist', format: 'esm', sourcemap: true, cleanDir: true },
  plugins: [publishedSchemas, sdkWireChecks()],
};
