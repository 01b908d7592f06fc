/**
 * A command run as the process: what both entry points call (cli.ts, and snapshot.ts for a start
 * from a V8 startup snapshot) once zod's setting and the V8 flags are in place. The process's
 * streams, its terminal questions, and its exit code are here; the commands are in dispatch.ts.
 */
import { createInterface } from 'node:readline';
import { runCli } from './dispatch.js';

/** Whether the reader of stdout or stderr went away: nothing more is written. */
let readerGone = false;

/**
 * The terminal's answers, read line by line from the first question until the command ends, so
 * that an answer typed ahead is kept for the question it answers. Ctrl-D answers "q" to this and
 * every later question; Ctrl-C stops the command as it would without a question open.
 */
interface Prompt {
  close(): void;
  next(): Promise<string>;
}
let prompt: Prompt | undefined;

function ask(question: string): Promise<string> {
  prompt ??= openPrompt();
  process.stderr.write(question);
  return prompt.next();
}

function openPrompt(): Prompt {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const lines: string[] = [];
  let waiting: ((line: string) => void) | undefined;
  let closed = false;
  const give = (line: string) => {
    const w = waiting;
    waiting = undefined;
    if (w) w(line);
    else lines.push(line);
  };
  rl.on('line', give);
  rl.on('close', () => {
    closed = true;
    waiting?.('q');
  });
  rl.on('SIGINT', () => {
    rl.close();
    process.kill(process.pid, 'SIGINT');
  });
  return {
    close: () => rl.close(),
    next: () => {
      const line = lines.shift();
      if (line !== undefined) return Promise.resolve(line);
      if (closed) return Promise.resolve('q');
      return new Promise((resolve) => (waiting = resolve));
    },
  };
}

// The reader went away (`sshgate check | head -1`, also `2>&1 | head`): write no more. A command
// that holds something (the demo's host, run's remote command, serve's tasks) cleans up as on
// SIGTERM: its handlers are called, not emitted to, so that they stay in place for a real SIGTERM
// during the cleanup. The others end at once with the status of a SIGPIPE death, which shells do
// not report.
const readerWentAway = () => {
  if (readerGone) return;
  readerGone = true;
  const handlers = process.listeners('SIGTERM');
  if (handlers.length === 0) process.exit(128 + 13);
  for (const handler of handlers) handler('SIGTERM');
};

/**
 * Runs the command `argv` names (the arguments after the program) in this process: its output on
 * stdout and stderr, its questions on the terminal, its status as the process's exit code.
 */
export async function main(argv: readonly string[], version: string): Promise<void> {
  process.stdout.on('error', readerWentAway);
  process.stderr.on('error', readerWentAway);
  const io = {
    out: (text: string) => void (readerGone || process.stdout.write(text)),
    err: (text: string) => void (readerGone || process.stderr.write(text)),
    // A question on stderr (stdout stays the command's output), the answer from the terminal.
    ...(process.stdin.isTTY ? { ask } : {}),
  };
  try {
    process.exitCode = await runCli([...argv], process.env, io, version);
  } catch (err) {
    // A bug, not a user error: say so without dumping internals on the user.
    io.err(`sshgate: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  } finally {
    // The terminal back as it was, and stdin no longer read: the process may end.
    prompt?.close();
  }
}
