/**
 * The server log: pino JSON lines on stderr (stdout is the MCP channel). Credentials never reach
 * the logger, and the paths where they could hide are redacted all the same.
 */
import { pino, type Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const REDACT = ['password', 'passphrase', 'privateKey', 'token', '*.password', '*.passphrase', '*.privateKey', '*.token', 'auth', '*.auth'];

export function createLogger(level: LogLevel, fd = 2): Logger {
  return pino(
    { name: 'sshgate', level, redact: { paths: REDACT, censor: '[redacted]' }, base: { pid: process.pid } },
    // Synchronous, so the records of a server that is about to exit are not lost.
    pino.destination({ fd, sync: true }),
  );
}
