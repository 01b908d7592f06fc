/**
 * The server log: pino JSON lines on stderr (stdout is the MCP channel). Credentials never reach
 * the logger, and the paths where they could hide are redacted all the same.
 */
import { pino, type Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const REDACT = ['password', 'passphrase', 'privateKey', 'token', '*.password', '*.passphrase', '*.privateKey', '*.token', 'auth', '*.auth'];

export function createLogger(level: LogLevel, fd = 2): Logger {
  // `base` given, with the pid read now: pino's own is the pid and host name it read as it loaded,
  // which in the Docker image is the process that built the startup snapshot (src/snapshot.ts).
  return pino(
    { name: 'sshgate', level, redact: { paths: REDACT, censor: '[redacted]' }, base: { pid: process.pid } },
    // Synchronous, so the records of a server that is about to exit are not lost.
    pino.destination({ fd, sync: true }),
  );
}

/** Keys whose values a record never shows, wherever (at the top or one object down). */
const SECRET_KEYS = new Set(['password', 'passphrase', 'privateKey', 'token']);

export type RecordWriter = (record: Readonly<Record<string, unknown>>, msg: string) => void;

/**
 * Writes info records of one kind, the audit's, into the logger's stream as the line pino writes
 * (`{"level":30,"time":…,<bindings>,…record,"msg":…}`), in one JSON.stringify. pino's own path
 * (a child's bindings merged per record, every value serialised on its own, then the redaction
 * paths walked) was half of what the two audit records of a warm call cost; this does not redact
 * `auth`, which in an audit record is how the caller authenticated (docs/operations.md), not a
 * credential.
 */
export function recordWriter(logger: Logger, bindings: Record<string, unknown>): RecordWriter {
  const child = logger.child(bindings);
  const own = child as unknown as Record<symbol, unknown>;
  const stream = own[pino.symbols.streamSym] as { write(line: string): unknown };
  const head = `{"level":${child.levels.values.info}`;
  const chindings = own[pino.symbols.chindingsSym] as string;
  return (record, msg) => {
    if (!child.isLevelEnabled('info')) return;
    const body = JSON.stringify(withoutSecrets(record));
    const fields = body.length > 2 ? `,${body.slice(1, -1)}` : '';
    stream.write(`${head},"time":${Date.now()}${chindings}${fields},"msg":${JSON.stringify(msg)}}\n`);
  };
}

function withoutSecrets(record: Readonly<Record<string, unknown>>, depth = 0): Readonly<Record<string, unknown>> {
  let out: Record<string, unknown> | undefined;
  for (const key in record) {
    const value = record[key];
    const censored = SECRET_KEYS.has(key)
      ? '[redacted]'
      : depth === 0 && value !== null && typeof value === 'object' && !Array.isArray(value)
        ? withoutSecrets(value as Record<string, unknown>, 1)
        : value;
    if (censored !== value) (out ??= { ...record })[key] = censored;
  }
  return out ?? record;
}
