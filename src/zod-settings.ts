/**
 * zod without its JIT: by default each object schema compiles a parser of its own with `new
 * Function` on its first parse. A start parses a few hundred schemas once each (the config, the
 * policy, the SDK's protocol messages), and compiling them cost some 90 ms of CPU on Node 24, a
 * quarter of the start; a warm tool call measured no slower without it (the objects are small).
 * The setting is read when a schema is built, so this module is loaded before any other that
 * builds one (cli.ts). zod keeps it on globalThis: the MCP SDK's schemas follow it too.
 */
import { z } from 'zod';

z.config({ jitless: true });
