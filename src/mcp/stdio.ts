/**
 * MCP over stdio. The SDK's stdio entry decides the era from the client's opening (a 2026-07-28
 * `server/discover`, or a 2025-era `initialize`) and serves each connection from the factory.
 * The SDK skips a line that is not JSON without a word; an operator whose client writes such
 * lines (a shell wrapper that echoes, a wrong pipe) sees each of them in the log here.
 */
import type { ProtocolEra, Server } from '@modelcontextprotocol/server';
import { serveStdio, StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import type { Logger } from 'pino';
import { clip } from '../errors.js';

export interface StdioHandle {
  close(): Promise<void>;
}

/**
 * `closed`: called once the SDK has closed the connection, whatever the reason: stdin ended, or a
 * fatal read (a line beyond its 10 MiB buffer), after which nothing more is read.
 */
// eslint-disable-next-line @typescript-eslint/no-deprecated -- the low-level Server: see server.ts
export function serveOverStdio(factory: (ctx: { era: ProtocolEra }) => Server, logger: Logger, closed: () => void): StdioHandle {
  const transport = new StdioServerTransport(process.stdin, process.stdout);
  const handle = serveStdio(factory, {
    transport,
    onerror: (err) => logger.warn({ error: clip(err.message) }, 'an MCP message could not be read or handled'),
  });
  // Beside the SDK's reader (which serveStdio has attached by now), not in front of it: a stream
  // between stdin and the SDK cost a warm call ~0.06 ms (docs/benchmarks.md, session 20).
  const lines = new NotJsonLines(logger);
  const watch = (chunk: Buffer) => lines.read(chunk);
  const unwatch = () => void process.stdin.off('data', watch);
  process.stdin.on('data', watch).once('end', unwatch).once('close', unwatch);
  const sdkClosed = transport.onclose;
  transport.onclose = () => {
    sdkClosed?.();
    unwatch();
    closed();
  };
  return {
    close: () => {
      unwatch();
      return handle.close();
    },
  };
}

/** Logs each line of stdin that cannot be JSON (by its first character). */
class NotJsonLines {
  /** Whether the current line's first non-blank character has been seen yet. */
  private judged = false;

  constructor(private readonly logger: Logger) {}

  read(chunk: Buffer): void {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i] as number;
      if (c === 0x0a) this.judged = false;
      else if (!this.judged && c !== 0x20 && c !== 0x09 && c !== 0x0d) {
        this.judged = true;
        if (c !== 0x7b /* { */ && c !== 0x5b /* [ */)
          this.logger.warn('an MCP message could not be read or handled: a line on stdin is not JSON');
      }
    }
  }
}
