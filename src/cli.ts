#!/usr/bin/env node
/** The only entry point: reads argv and the environment, runs one command, sets the exit code. */
import { readFileSync } from 'node:fs';
import { runCli } from './commands/dispatch.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
let readerGone = false;
const io = {
  out: (text: string) => void (readerGone || process.stdout.write(text)),
  err: (text: string) => void process.stderr.write(text),
};
// The reader went away (`sshgate check | head -1`): write no more. A command that holds something
// (the demo's host, run's remote command, serve's tasks) cleans up as on SIGTERM; the others end
// at once with the status of a SIGPIPE death, which shells do not report.
process.stdout.on('error', () => {
  if (readerGone) return;
  readerGone = true;
  if (process.listenerCount('SIGTERM') > 0) process.emit('SIGTERM', 'SIGTERM');
  else process.exit(128 + 13);
});

try {
  process.exitCode = await runCli(process.argv.slice(2), process.env, io, pkg.version);
} catch (err) {
  // A bug, not a user error: say so without dumping internals on the user.
  io.err(`sshgate: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
}
