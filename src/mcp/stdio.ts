/**
 * MCP over stdio. The SDK's stdio entry decides the era from the client's opening (a 2026-07-28
 * `server/discover`, or a 2025-era `initialize`) and serves each connection from the factory.
 * The SDK skips a line that is not JSON without a word; an operator whose client writes such
 * lines (a shell wrapper that echoes, a wrong pipe) sees each of them in the log here.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { ProtocolEra, Server } from '@modelcontextprotocol/server';
import { serveStdio, StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import type { Logger } from 'pino';
import { clip } from '../errors.js';

export interface StdioHandle {
  close(): Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-deprecated -- the low-level Server: see server.ts
export function serveOverStdio(factory: (ctx: { era: ProtocolEra }) => Server, logger: Logger): StdioHandle {
  const input = process.stdin.pipe(new NotJsonLines(logger));
  const transport = new StdioServerTransport(input, process.stdout);
  return serveStdio(factory, {
    transport,
    onerror: (err) => logger.warn({ error: clip(err.message) }, 'an MCP message could not be read or handled'),
  });
}

/** Passes stdin through as it is, and logs each line that cannot be JSON (by its first character). */
class NotJsonLines extends Transform {
  /** Whether the current line's first non-blank character has been seen yet. */
  private judged = false;

  constructor(private readonly logger: Logger) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i] as number;
      if (c === 0x0a) this.judged = false;
      else if (!this.judged && c !== 0x20 && c !== 0x09 && c !== 0x0d) {
        this.judged = true;
        if (c !== 0x7b /* { */ && c !== 0x5b /* [ */)
          this.logger.warn('an MCP message could not be read or handled: a line on stdin is not JSON');
      }
    }
    done(null, chunk);
  }
}
