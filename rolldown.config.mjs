/**
 * `npm run build`, second step: tsc's modules (build/) bundled into dist/, the entry and one chunk
 * per module loaded lazily (serve, the HTTP transport, ssh2's users…), so that a start reads a few
 * files instead of some 500 (docs/architecture.md, "Start"). ssh2 and web-tree-sitter stay in
 * node_modules: ssh2 loads a native addon and WebAssembly of its own, and the grammar's .wasm files
 * are found beside their packages.
 */
export default {
  input: 'build/cli.js',
  platform: 'node',
  external: [/^ssh2(\/|$)/, /^web-tree-sitter(\/|$)/],
  output: { dir: 'dist', format: 'esm', sourcemap: true, cleanDir: true },
};
