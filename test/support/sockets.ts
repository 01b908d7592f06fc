/** Unix sockets as an ssh-agent leaves them: one that listens, and one whose listener has ended. */
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';

/** A socket file nothing listens on any more: a process bound it and exited without removing it. */
export function staleSocket(path: string): string {
  execFileSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`]);
  return path;
}

/** A socket that accepts connections (and says nothing), until the server is closed. */
export async function listeningSocket(path: string): Promise<Server> {
  const server = createServer((c) => c.destroy());
  await new Promise<void>((r) => server.listen(path, r));
  return server;
}
