/**
 * `node dist/cli.js serve --http 127.0.0.1:PORT` on a test config dir, as the HTTP tests run it:
 * started with only PATH and what the test gives in its environment, ready once it has logged the
 * port it listens on, and stopped with SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { serveArgs } from './mcp.js';

export interface ServeHttp {
  port: number;
  /** `http://127.0.0.1:PORT/mcp`. */
  url: string;
  /** Everything the server wrote to stderr so far (its pino log). */
  log(): string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts serve --http on the config and policies of `dir`; `args` are more options (a token file,
 * a tokens file, an issuer), `env` more variables, `nodeArgs` node's own options (a benchmark's
 * --cpu-prof), `cli` what node runs instead of dist/cli.js (`--` after a startup snapshot's
 * --snapshot-blob); `port` 0 (any free one) unless given.
 */
export async function startServeHttp(
  dir: string,
  o: { args?: string[]; env?: Record<string, string>; port?: number; nodeArgs?: readonly string[]; cli?: string } = {},
): Promise<ServeHttp> {
  const child = spawn(
    process.execPath,
    [...(o.nodeArgs ?? []), ...serveArgs(dir, o.cli), '--http', `127.0.0.1:${o.port ?? 0}`, ...(o.args ?? [])],
    { env: { PATH: process.env.PATH ?? '', SSHGATE_STATE_DIR: join(dir, 'state-http'), ...o.env }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  for (let i = 0; i < 600 && !/"port":(\d+)/.test(log) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
  const port = Number(/"port":(\d+)/.exec(log)?.[1]);
  if (!(port > 0)) {
    child.kill('SIGKILL');
    throw new Error(`serve --http did not start:\n${log}`);
  }
  return {
    port,
    url: `http://127.0.0.1:${port}/mcp`,
    log: () => log,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
