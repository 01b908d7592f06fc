/**
 * `sshgate check --connect [ALIAS|@TAG] [--json]`: after the checks of `sshgate check`, logs in to
 * each host (every host without a target) and reports what its tasks will meet there
 * (gateway/host-check.ts): reachable, host key, login, login shell, the pinned interpreter, sudo
 * for the become rules, SFTP. Hosts are checked at most DEFAULT_FAN_OUT at a time, and printed in
 * inventory order as they finish. Exit status 1 when the files have a problem or any host fails.
 */
import { hostByAlias, hostsWithTag } from '../config/select-hosts.js';
import type { HostEntry } from '../config/file-formats.js';
import type { Inventory } from '../config/load-inventory.js';
import { SshgateError } from '../errors.js';
import { eachBounded } from '../gateway/each-bounded.js';
import { DEFAULT_FAN_OUT } from '../gateway/fan-out.js';
import { checkHost, type HostCheck, type Step } from '../gateway/host-check.js';
import { targetContextFor } from '../gateway/targets.js';
import { createLogger } from '../logger.js';
import { openKnownHosts } from '../ssh/known-hosts-file.js';
import { ConnectionPool } from '../ssh/pool.js';
import { loadSsh2 } from '../ssh/ssh2.js';
import { checkCommand } from './check.js';
import { loadAll, reportConfigError, reportError, type Io, type Paths } from './context.js';

export interface CheckConnectOptions {
  target?: string;
  json: boolean;
  /** As check --strict: the policy lint's findings fail the check before any host is asked. */
  strict?: boolean;
}

export async function checkConnectCommand(
  paths: Paths,
  o: CheckConnectOptions,
  io: Io,
  env: Readonly<Record<string, string | undefined>>,
): Promise<number> {
  if (!o.json) {
    const status = await checkCommand(paths, io, env, { strict: o.strict ?? false });
    if (status !== 0) return status;
  }
  let loaded;
  let hostKeys;
  try {
    loaded = await loadAll(paths);
    await loadSsh2();
    hostKeys = openKnownHosts(loaded.policy.knownHostsPath, paths.configDir, loaded.policy.hostKeyPolicy);
  } catch (err) {
    if (reportConfigError(io, err)) return 1;
    throw err;
  }
  let hosts: HostEntry[];
  try {
    hosts = selected(loaded.inventory, o.target);
  } catch (err) {
    if (err instanceof SshgateError) {
      reportError(io, err);
      return 2;
    }
    throw err;
  }
  const pool = ConnectionPool.withDefaults(createLogger('silent'));
  const stop = new AbortController();
  const interrupted = () => stop.abort('cancelled');
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const deps = {
    inventory: loaded.inventory,
    policy: loaded.policy,
    engine: loaded.engine,
    ctx: targetContextFor(loaded, hostKeys, paths, env, new Map()),
    pool,
    signal: stop.signal,
  };
  try {
    if (!o.json) io.out(`connect: ${hosts.length} host${hosts.length === 1 ? '' : 's'}, up to ${DEFAULT_FAN_OUT} at a time\n`);
    const printer = new InOrder<HostCheck>(hosts.length, (r) => !o.json && io.out(block(r)));
    const reports = await eachBounded(hosts, DEFAULT_FAN_OUT, async (host, i) => {
      const r = await checkHost(host, deps);
      printer.done(i, r);
      return r;
    });
    const ok = reports.every((r) => r.ok);
    if (o.json) io.out(`${JSON.stringify({ ok, hosts: reports }, null, 2)}\n`);
    else {
      const failed = reports.filter((r) => !r.ok).map((r) => r.alias);
      io.out(
        `connect: ${reports.length - failed.length} of ${reports.length} host${reports.length === 1 ? '' : 's'} passed${failed.length > 0 ? `; failed: ${failed.join(', ')}` : ''}\n`,
      );
    }
    return ok ? 0 : 1;
  } finally {
    process.removeListener('SIGINT', interrupted);
    process.removeListener('SIGTERM', interrupted);
    await pool.close();
  }
}

function selected(inventory: Inventory, target: string | undefined): HostEntry[] {
  if (target === undefined) return inventory.hosts;
  return target.startsWith('@') ? hostsWithTag(inventory, target.slice(1)) : [hostByAlias(inventory, target)];
}

/** Hands results on in index order, each as soon as it and every one before it are in. */
class InOrder<T> {
  private readonly held = new Map<number, T>();
  private next = 0;

  constructor(
    private readonly total: number,
    private readonly emit: (item: T) => void,
  ) {}

  done(index: number, item: T): void {
    this.held.set(index, item);
    while (this.next < this.total && this.held.has(this.next)) {
      this.emit(this.held.get(this.next) as T);
      this.held.delete(this.next++);
    }
  }
}

/** One host's report for a person: a heading with the verdict, a line per step, a hint under a failure. */
export function block(r: HostCheck): string {
  const via = r.jump_chain.length > 0 ? ` via ${r.jump_chain.join(' → ')}` : '';
  const lines = [`${r.alias} (${r.host}:${r.port}${via}): ${r.ok ? 'OK' : 'FAILED'}`];
  const row = (name: string, s: Step, ok: string) => {
    const text =
      s.status === 'ok'
        ? ok
        : `${s.status === 'skipped' ? 'skipped' : s.status === 'warning' ? 'warning' : 'FAILED'}${s.error ? `: ${s.error.message}` : ''}`;
    lines.push(`  ${name.padEnd(12)} ${text}`);
    if (s.status !== 'ok' && s.status !== 'skipped' && s.error?.hint) lines.push(`  ${''.padEnd(12)} hint: ${s.error.hint}`);
  };
  row('reachable', r.reachable, r.reachable.handshake_ms !== undefined ? `yes, login in ${r.reachable.handshake_ms} ms` : 'yes');
  row('host key', r.host_key, r.host_key.fingerprint ? `verified: ${r.host_key.key_type} ${r.host_key.fingerprint}` : 'verified');
  row('login', r.login, `${r.login.method} as ${r.login.user} (credential "${r.login.credential}")`);
  row('login shell', r.login_shell, r.login_shell.path || '(none set)');
  row('interpreter', r.interpreter, `${r.interpreter.shell} (${r.interpreter.command}) runs`);
  if (r.sudo.length === 0) lines.push(`  ${'become'.padEnd(12)} no become rule names a user on this host`);
  for (const s of r.sudo) row(`${s.method} ${s.user}`, s, `runs as ${s.user} (rules: ${s.rules.map((n) => `"${n}"`).join(', ')})`);
  row('sftp', r.sftp, 'available');
  return `${lines.join('\n')}\n`;
}
