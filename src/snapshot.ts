/**
 * The other entry point: the Docker image starts sshgate from a V8 startup snapshot of this
 * module (docs/architecture.md, "Start"). `npm run build:snapshot` bundles it into one CommonJS
 * script, dist/snapshot.cjs (rolldown.snapshot.mjs), and the image runs it once at build time with
 * `node --build-snapshot`: every module below is loaded and evaluated then, zod's schemas and the
 * SDK's included, and the heap is written to a blob. A start from the blob (`node --snapshot-blob
 * sshgate.blob -- ARGS`) deserializes that heap instead of reading, compiling and evaluating the
 * modules, and then calls main() with the process's own arguments and environment.
 *
 * What must not be in the heap, nothing here touches while it is built: the environment, the
 * streams, the time, the V8 flags (all read by main() and what it calls), and modules that hold
 * native state (node:http: loaded on first use, rolldown.snapshot.mjs; ssh2 and web-tree-sitter:
 * required when first needed, ssh/ssh2.ts and policy/parse.ts).
 */
// First: no random value may be drawn while the blob is built (snapshot-randomness.ts).
import './snapshot-randomness.js';
// Then zod's setting: a schema built before it keeps its JIT (zod-settings.ts).
import './zod-settings.js';
import { startupSnapshot } from 'node:v8';
import { readFileSync } from 'node:fs';
import { main } from './commands/main.js';
import { compileWasmWithoutTierUp } from './memory.js';
// In the heap, evaluated: what a stdio server's start loads (the commands' modules are otherwise
// loaded when they run, dispatch.ts). Not the HTTP transport: its web server reads the global
// Request and Response as it loads, which loads Node's HTTP stack, whose parser a snapshot cannot
// hold; `serve --http` evaluates it as it starts.
import './commands/serve.js';

/** The package's version, read as the snapshot is built: the blob is made from this package. */
const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

if (startupSnapshot.isBuildingSnapshot()) {
  startupSnapshot.setDeserializeMainFunction(() => {
    // The flags of the process that starts, not of the one that built the blob.
    compileWasmWithoutTierUp();
    // Node runs no script from a snapshot: argv[1] is the first argument (after `--`).
    void main(process.argv.slice(1), version);
  });
} else {
  // `node dist/snapshot.cjs ARGS`: the bundle run as a script, as the blob would run it.
  compileWasmWithoutTierUp();
  void main(process.argv.slice(2), version);
}
