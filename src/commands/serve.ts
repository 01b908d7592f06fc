/**
 * `sshgate serve`: the MCP server over stdio. It runs until stdin ends, the SDK closes the
 * connection (a line beyond its read buffer) or a SIGTERM/SIGINT comes, then cancels every task
 * (so nothing is left running on a host), closes the connections and exits, within about two
 * seconds.
 */
import { AuditFile } from '../audit/audit-file.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { AuthSettings } from '../auth/settings.js';
import { createAuditor } from '../audit/auditor.js';
import { createLogger, type LogLevel } from '../logger.js';
import { ConfigError, SshgateError } from '../errors.js';
import { Gateway } from '../gateway/gateway.js';
import { checkTransferRoot, type GuardedDir } from '../gateway/transfer-root.js';
import { openControlSocket, type ControlSocket } from '../approvals/control-socket.js';
import type { HttpOptions } from '../mcp/http.js';
import { userInfo } from 'node:os';
import { createServer } from '../mcp/server.js';
import { serveOverStdio } from '../mcp/stdio.js';
import { ConnectionPool } from '../ssh/pool.js';
import type { Principal } from '../principal.js';
import { EndRecords } from '../tasks/end-records.js';
import { TaskJournal } from '../tasks/journal.js';
import { QuotaStore } from '../tasks/quota-store.js';
import { TaskManager, type RestoredTask } from '../tasks/task-manager.js';
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { reportError, type Io, type Paths } from './context.js';

export interface ServeOptions {
  logLevel: LogLevel;
  /** Where the task journal lives; none: no journal. */
  stateDir?: string;
  /** The hash-chained audit file, if any. */
  auditLog?: string;
  /** The directory ssh_put_file and ssh_get_file transfer from and to; none: they refuse. */
  transferRoot?: string;
  /** How many tasks the registry keeps, finished ones included (SSHGATE_MAX_TASKS; default 1000). */
  maxTasks?: number;
  /** Serve Streamable HTTP instead of stdio. */
  http?: Pick<
    HttpOptions,
    'host' | 'port' | 'token' | 'allowedHosts' | 'allowedOrigins' | 'sessionIdleMs' | 'maxConnectionsPerClient' | 'maxConnections'
  > & {
    /** The tokens file and the OAuth issuer, if either is set. */
    auth?: AuthSettings;
  };
  /** `--as`/`--role`: the stdio caller, or whoever has the HTTP token; default the OS user / http. */
  principal?: Principal;
  version: string;
  env: Readonly<Record<string, string | undefined>>;
}

/** Shutdown gets this long before the process exits regardless. */
const SHUTDOWN_MS = 1800;

export async function serveCommand(paths: Paths, options: ServeOptions, io: Io): Promise<number> {
  const logger = createLogger(options.logLevel);
  let transferRoot: string | undefined;
  if (options.transferRoot !== undefined) {
    try {
      transferRoot = checkTransferRoot(options.transferRoot, guardedDirs(paths, options.stateDir));
    } catch (err) {
      // A root others could reach into, or one around sshgate's own files, is a reason not to serve.
      if (!(err instanceof SshgateError)) throw err;
      reportError(io, err);
      return 2;
    }
  }
  let auditFile: AuditFile | undefined;
  if (options.auditLog) {
    try {
      auditFile = new AuditFile(options.auditLog);
    } catch (err) {
      // An audit trail that was asked for and cannot be kept is a reason not to serve.
      io.err(`sshgate: the audit file cannot be used, not serving: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
      return 2;
    }
  }
  const audit = createAuditor(logger, auditFile);
  let journal: TaskJournal | undefined;
  let restored: RestoredTask[] = [];
  try {
    ({ journal, restored } = openJournal(options.stateDir, logger));
  } catch (err) {
    // A journal that another user could write would put their words in front of the agent.
    if (!(err instanceof SshgateError)) throw err;
    reportError(io, err);
    return 2;
  }
  let quotas: QuotaStore | undefined;
  try {
    quotas = openQuotas(options.stateDir, logger);
  } catch (err) {
    // A quota file that cannot be read is never taken for zero: the operator decides.
    if (!(err instanceof SshgateError)) throw err;
    reportError(io, err);
    return 2;
  }
  const ended = new EndRecords((t) => {
    audit.taskEnd(t);
    journal?.record(t);
  });
  const tasks = new TaskManager({
    ...(options.maxTasks !== undefined ? { maxTasks: options.maxTasks } : {}),
    onEnd: (t) => ended.add(t),
    onChange: (t) => journal?.record(t),
    onForget: (t) => {
      ended.flush();
      journal?.forget(t.id);
    },
  });
  if (journal) {
    tasks.restore(restored);
    logger.info(
      { journal: journal.path, restored: restored.length, lost: restored.filter((t) => t.state === 'lost').length },
      'task journal read',
    );
  }
  const pool = ConnectionPool.withDefaults(logger);
  let gateway: Gateway;
  try {
    gateway = await Gateway.create({
      paths,
      env: options.env,
      logger,
      audit,
      tasks,
      pool,
      readyLater: true,
      ...(quotas ? { days: quotas } : {}),
      ...(transferRoot !== undefined ? { transferRoot } : {}),
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`sshgate: the configuration is invalid, not serving:\n${err.message}\n`);
      return 2;
    }
    throw err;
  }
  // What only a call needs, loaded while nothing waits for it (Gateway.ready); a failure is the
  // first call's error too, and logged here once. The control socket too: only a call can make an
  // approval request, and opening it loads node's cluster module, some milliseconds of a start.
  let control: Promise<ControlSocket | undefined> | undefined;
  const warm = () => {
    if (control) return;
    control = openControl(options.stateDir, gateway, logger);
    void gateway.ready().catch((err: Error) => logger.error({ err: err.message }, 'cannot load what calls need'));
  };
  let closeTransport: () => Promise<void> = () => Promise.resolve();
  let stopServing = (why: string): void => void why;
  const stopped = new Promise<string>((resolve) => {
    let stopping: Promise<void> | undefined;
    const stop = (why: string) => {
      stopping ??= (async () => {
        logger.info({ why }, 'shutting down: cancelling tasks and closing connections');
        await Promise.race([
          (async () => {
            await tasks.shutdown();
            ended.flush();
            await quotas?.close();
            await pool.close();
          })(),
          new Promise((r) => setTimeout(r, SHUTDOWN_MS).unref()),
        ]);
        await closeTransport().catch(() => undefined);
        await (await control)?.close();
        resolve(why);
      })();
    };
    stopServing = stop;
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    if (!options.http) {
      process.stdin.once('end', () => stop('stdin closed'));
      process.stdin.once('close', () => stop('stdin closed'));
    }
  });

  if (options.http) {
    let auth: Authenticator | undefined;
    try {
      // Loaded here: a stdio server does not carry the HTTP transport or jose (OAuth).
      const { createAuthenticator } = await import('../auth/authenticator.js');
      auth = options.http.auth && createAuthenticator(options.http.auth);
    } catch (err) {
      // A tokens file with a problem: serving without it would lock its callers out, or worse.
      if (!(err instanceof ConfigError || err instanceof SshgateError)) throw err;
      io.err(`sshgate: the HTTP callers' settings are invalid, not serving:\n${err.message}\n`);
      await pool.close();
      return 2;
    }
    try {
      const { startHttp } = await import('../mcp/http.js');
      const handle = await startHttp({
        ...withoutAuthSettings(options.http),
        ...(auth ? { auth } : {}),
        gateway,
        logger,
        version: options.version,
        ...(options.principal ? { principal: options.principal } : {}),
      });
      closeTransport = () => handle.close();
      warm();
    } catch (err) {
      io.err(
        `sshgate: cannot listen on ${options.http.host}:${options.http.port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`,
      );
      await pool.close();
      return 2;
    }
  } else {
    const caller = { principal: options.principal ?? osUser() };
    // Once the client has the tool list, while it reads it, so as not to compete with the first
    // answers for the CPU. A client that asks for no list has it loaded by its first call.
    // The era is the connection's: a 2026-07-28 client is offered the Tasks extension.
    // A connection the SDK closed on its own (a line beyond its read buffer) is gone: so is the server.
    const handle = serveOverStdio(
      ({ era }) => createServer({ gateway: gateway.forCaller(caller), logger, version: options.version, era, warm }),
      logger,
      () => stopServing('the MCP connection closed'),
    );
    closeTransport = () => handle.close();
    logger.info({ hosts: gateway.listHosts({}).hosts.length, version: options.version }, 'sshgate serving MCP over stdio');
  }
  await stopped;
  // Whatever still holds the event loop (a socket mid-close) must not keep a stopped server alive.
  setTimeout(() => process.exit(0), 100).unref();
  return 0;
}

/**
 * The control socket operators answer approval requests over (sshgate approvals, approve, deny).
 * Without a usable state dir the server runs without one: ask rules then wait for an answer from
 * the client, or over HTTP from an approver, or expire.
 */
async function openControl(
  dir: string | undefined,
  gateway: Gateway,
  logger: ReturnType<typeof createLogger>,
): Promise<ControlSocket | undefined> {
  if (!dir) return undefined;
  try {
    const socket = await openControlSocket(dir, {
      list: (all) => gateway.listApprovals(all),
      answer: (id, answerer, approve, reason) => gateway.answerApproval(id, answerer, approve, reason),
    });
    logger.info({ path: socket.path }, 'control socket open: sshgate approvals answers approval requests');
    return socket;
  } catch (err) {
    logger.warn(
      { dir, err: (err as Error).message },
      'no control socket: operators cannot answer approval requests with sshgate approve on this server',
    );
    return undefined;
  }
}

function withoutAuthSettings<T extends { auth?: AuthSettings }>(o: T): Omit<T, 'auth'> {
  const rest = { ...o };
  delete rest.auth;
  return rest;
}

/** The stdio caller without --as: the OS user sshgate runs as (the one who started the agent). */
function osUser(): Principal {
  let name: string;
  try {
    name = userInfo().username;
  } catch {
    name = `uid-${process.getuid?.() ?? 'unknown'}`;
  }
  return { name, roles: [], via: 'os-user' };
}

/**
 * Today's command counts per principal, kept in the state dir so that a restart does not reset a
 * quota. A dir that cannot be used is logged and the counts live in memory; a quota file that is
 * not private or cannot be read throws (a SshgateError).
 */
function openQuotas(dir: string | undefined, logger: ReturnType<typeof createLogger>): QuotaStore | undefined {
  if (!dir) return undefined;
  try {
    return QuotaStore.open(dir, { onWriteError: (e) => logger.warn({ dir, err: e.message }, 'could not write the quota file') });
  } catch (err) {
    if (err instanceof SshgateError) throw err;
    logger.warn(
      { dir, err: (err as Error).message },
      'the state dir cannot be used: quotas are counted in memory, and a restart resets them',
    );
    return undefined;
  }
}

/**
 * The journal in the state dir and the tasks it brings back. A dir that cannot be used is logged,
 * and the server runs without; one that another user could write throws (a SshgateError).
 */
function openJournal(
  dir: string | undefined,
  logger: ReturnType<typeof createLogger>,
): { journal?: TaskJournal; restored: RestoredTask[] } {
  if (!dir) return { restored: [] };
  try {
    const journal = new TaskJournal(dir);
    return { journal, restored: journal.recover(Date.now()) };
  } catch (err) {
    if (err instanceof SshgateError) throw err;
    logger.warn({ dir, err: (err as Error).message }, 'the state dir cannot be used: tasks are not journaled, and a restart forgets them');
    return { restored: [] };
  }
}

/** sshgate's own directories, which the transfer root may neither be inside of nor contain. */
function guardedDirs(paths: Paths, stateDir: string | undefined): GuardedDir[] {
  const policyDir = existsSync(paths.policyPath) && statSync(paths.policyPath).isDirectory() ? paths.policyPath : dirname(paths.policyPath);
  return [
    { name: 'config dir', path: paths.configDir },
    { name: 'keys dir', path: paths.keysDir },
    { name: 'secrets dir', path: paths.secretsDir },
    { name: 'policy dir', path: policyDir },
    ...(stateDir !== undefined ? [{ name: 'state dir', path: stateDir }] : []),
  ];
}
