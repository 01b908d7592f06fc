#!/usr/bin/env node
/** The only entry point: reads argv and the environment, runs one command, sets the exit code. */
import { readFileSync } from 'node:fs';
import { runCli } from './commands/dispatch.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
const io = {
  out: (text: string) => void process.stdout.write(text),
  err: (text: string) => void process.stderr.write(text),
};

try {
  process.exitCode = await runCli(process.argv.slice(2), process.env, io, pkg.version);
} catch (err) {
  // A bug, not a user error: say so without dumping internals on the user.
  io.err(`sshgate: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
}
