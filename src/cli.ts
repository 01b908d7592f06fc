#!/usr/bin/env node
/** The entry point: sets up the process, then runs the command argv names (commands/main.ts). */
import { readFileSync } from 'node:fs';
import { enableCompileCache } from './compile-cache.js';
import { compileWasmWithoutTierUp } from './memory.js';

// Before the commands are loaded: the cache serves only the modules compiled after it is on, a
// module compiled before the flags are set keeps its tier-up, and a schema built before zod's
// setting keeps its JIT.
enableCompileCache(process.env);
compileWasmWithoutTierUp();
await import('./zod-settings.js');
const { main } = await import('./commands/main.js');

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
await main(process.argv.slice(2), pkg.version);
