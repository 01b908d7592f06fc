/**
 * `sshgate keyscan [ALIAS|@TAG] [--yes]`: the host keys of inventory hosts (every host without a
 * target), through their jump chains (gateway/keyscan.ts), each key printed as
 * `alias host:port type SHA256:fingerprint state`, and appended to known_hosts once confirmed: on
 * a terminal, per host (y/N, a for this and every later host, q for none of the rest); with
 * `--yes`, without asking. Without a terminal and without `--yes` nothing is written. A key that
 * differs from a recorded one is never written, and is reported as OpenSSH reports it.
 */
import { isIP } from 'node:net';
import { hostByAlias, hostsWithTag } from '../config/select-hosts.js';
import type { HostEntry } from '../config/file-formats.js';
import { SshgateError } from '../errors.js';
import { DEFAULT_FAN_OUT } from '../gateway/fan-out.js';
import { keyscan, type HostScan } from '../gateway/keyscan.js';
import { targetContextFor } from '../gateway/targets.js';
import { createLogger } from '../logger.js';
import { openKnownHosts } from '../ssh/known-hosts-file.js';
import { ConnectionPool } from '../ssh/pool.js';
import type { JudgedKey } from '../ssh/scan-verdict.js';
import { loadSsh2 } from '../ssh/ssh2.js';
import { loadAll, reportConfigError, reportError, type Io, type Paths } from './context.js';

export interface KeyscanOptions {
  /** An alias or @tag; every host of the inventory when absent. */
  target?: string;
  yes: boolean;
}

export async function keyscanCommand(
  paths: Paths,
  o: KeyscanOptions,
  io: Io,
  env: Readonly<Record<string, string | undefined>>,
): Promise<number> {
  let loaded;
  let file;
  try {
    loaded = await loadAll(paths);
    file = openKnownHosts(loaded.policy.knownHostsPath, paths.configDir, 'strict');
  } catch (err) {
    if (reportConfigError(io, err)) return 2;
    throw err;
  }
  let selected: HostEntry[];
  try {
    selected = selectedHosts(loaded.inventory, o.target);
  } catch (err) {
    if (err instanceof SshgateError) {
      reportError(io, err);
      return 2;
    }
    throw err;
  }
  // A jump host's key is read and parsed with ssh2.
  await loadSsh2();
  const path = file.path;
  const pool = ConnectionPool.withDefaults(createLogger('silent'));
  const answer = new Answers(o.yes, io);
  try {
    const results = await keyscan(selected, {
      inventory: loaded.inventory,
      ctx: targetContextFor(loaded, file, paths, env, new Map()),
      pool,
      knownHostsPath: path,
      concurrency: DEFAULT_FAN_OUT,
      shown: (scan) => show(scan, path, io),
      confirm: (scan) => answer.confirm(scan, path),
      recorded: (scan) => recorded(scan, path, io),
    });
    return summary(results, answer, path, io);
  } finally {
    await pool.close();
  }
}

function selectedHosts(inventory: Parameters<typeof hostByAlias>[0], target: string | undefined): HostEntry[] {
  if (target === undefined) return inventory.hosts;
  return target.startsWith('@') ? hostsWithTag(inventory, target.slice(1)) : [hostByAlias(inventory, target)];
}

/** The answers to the confirmations: --yes, a terminal's, or none (nothing written). */
class Answers {
  private all: boolean | undefined;
  /** Hosts whose keys were not written for want of a terminal. */
  unasked = 0;

  constructor(
    private readonly yes: boolean,
    private readonly io: Io,
  ) {
    if (yes) this.all = true;
  }

  async confirm(scan: HostScan & { kind: 'scanned' }, path: string): Promise<boolean> {
    if (this.all !== undefined) return this.all;
    if (!this.io.ask) {
      this.unasked++;
      return false;
    }
    const n = scan.verdict.keys.length;
    const reply = (
      await this.io.ask(`add ${n === 1 ? 'this key' : `these ${n} keys`} of "${scan.host.alias}" to ${path}? [y/N/a=all/q=none] `)
    )
      .trim()
      .toLowerCase();
    if (reply === 'a' || reply === 'all') this.all = true;
    if (reply === 'q' || reply === 'quit') this.all = false;
    return reply === 'y' || reply === 'yes' || this.all === true;
  }
}

/** `10.0.0.1:22`, `[::1]:22`. */
function address(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

const STATE_WORD: Record<JudgedKey['state'], string> = {
  known: 'known',
  new: 'new',
  changed: 'CHANGED',
  revoked: 'REVOKED',
  unrecorded: 'not-recorded',
};

function show(scan: HostScan, path: string, io: Io): void {
  const { alias } = scan.host;
  if (!scan.asked) {
    const behind = scan.kind === 'skipped' ? '' : ' first';
    io.err(`sshgate: "${alias}" is a jump host of the hosts asked for, and not in known_hosts: scanned${behind}\n`);
  }
  if (scan.kind === 'failed') return reportError(io, { ...scan.error, message: `${alias}: ${scan.error.message}` });
  if (scan.kind === 'skipped') return void io.err(`sshgate: ${alias} was not scanned: ${scan.reason}\n`);
  const at = address(scan.host.host, scan.host.port);
  for (const k of scan.verdict.keys) io.out(`${alias} ${at} ${k.keyType} ${k.fingerprint} ${STATE_WORD[k.state]}\n`);
  if (scan.verdict.status === 'changed' || scan.verdict.status === 'revoked') io.err(warning(scan, path));
  else if (scan.verdict.keys.some((k) => k.state === 'unrecorded')) {
    io.err(
      `sshgate: ${alias}: keys of types known_hosts does not hold for it are not recorded: the host is known by another key, and a scan before login cannot prove the new one is the same host's\n`,
    );
  }
}

/** OpenSSH's warning for a changed host key, with what sshgate did (nothing) and what to do. */
function warning(scan: HostScan & { kind: 'scanned' }, path: string): string {
  const { alias } = scan.host;
  const at = address(scan.host.host, scan.host.port);
  const v = scan.verdict;
  const bar = '@'.repeat(59);
  if (v.status === 'revoked') {
    const k = v.keys.filter((x) => x.state === 'revoked');
    return [
      bar,
      '@       WARNING: REVOKED HOST KEY DETECTED!               @',
      bar,
      `The ${k.map((x) => `${x.keyType} key ${x.fingerprint}`).join(' and the ')} that host "${alias}" (${at}) sent is marked @revoked in ${path}.`,
      `Nothing was written for "${alias}". Do not connect to it until its keys are replaced.`,
      '',
    ].join('\n');
  }
  const changed = v.keys.filter((k) => k.state === 'changed');
  const sent = changed.length > 0 ? changed : v.keys;
  return [
    bar,
    '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @',
    bar,
    'IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!',
    'Someone could be eavesdropping on you right now (man-in-the-middle attack)!',
    'It is also possible that a host key has just been changed.',
    `Host "${alias}" (${at}) sent ${sent.map((k) => `the ${k.keyType} key ${k.fingerprint}`).join(', ')},`,
    `${changed.length > 0 ? 'but' : 'none of the keys'} ${path} holds for it${changed.length > 0 ? ' another' : ''}:`,
    ...v.recorded.map((r) => `  line ${r.line}: ${r.keyType} ${r.fingerprint}`),
    `Nothing was written for "${alias}". If the host was really re-keyed, check its new fingerprint out of band,`,
    `then delete ${v.recorded.length === 1 ? 'that line' : 'those lines'} (ssh-keygen -R ${shellHost(scan.host.host, scan.host.port)} -f ${path}) and run sshgate keyscan ${alias} again.`,
    '',
  ].join('\n');
}

function shellHost(host: string, port: number): string {
  return port === 22 ? host : `'[${host}]:${port}'`;
}

function recorded(scan: HostScan, path: string, io: Io): void {
  const { alias } = scan.host;
  if (scan.kind === 'failed') return reportError(io, { ...scan.error, message: `${alias}: ${scan.error.message}` });
  if (scan.kind === 'skipped') return;
  if (scan.written.length > 0) {
    const n = scan.written.length;
    io.err(
      `sshgate: added ${n} key${n === 1 ? '' : 's'} of "${alias}" to ${path}${scan.hashed ? ' (the host name hashed, as the file has its names)' : ''}\n`,
    );
    return;
  }
  // Another process recorded the host between the scan and the write: judged again, and told.
  if (scan.verdict.status === 'known') io.err(`sshgate: ${alias}: its keys were recorded meanwhile; nothing added\n`);
  else io.err(warning(scan, path));
}

/** The counts, the refusal for want of a terminal, and the exit status: 0 when every host asked for is known now. */
function summary(results: readonly HostScan[], answers: Answers, path: string, io: Io): number {
  const count = { added: 0, known: 0, changed: 0, failed: 0, skipped: 0, unwritten: 0 };
  let good = true;
  for (const r of results) {
    if (r.kind === 'failed') count.failed++;
    else if (r.kind === 'skipped') count.skipped++;
    else if (r.written.length > 0) count.added++;
    else if (r.verdict.status === 'known') count.known++;
    else if (r.verdict.status === 'new') count.unwritten++;
    else count.changed++;
    const fine = r.kind === 'scanned' && (r.written.length > 0 || r.verdict.status === 'known');
    if (r.asked && !fine) good = false;
  }
  if (answers.unasked > 0) {
    io.err(
      `sshgate: the keys of ${answers.unasked} new host${answers.unasked === 1 ? '' : 's'} were not written to ${path}: there is no terminal to confirm them on\n  hint: check the fingerprints above out of band (ssh-keygen -lf on each host's /etc/ssh/ssh_host_*_key.pub), then run sshgate keyscan again with --yes\n`,
    );
  }
  io.err(
    `keyscan: ${results.length} host${results.length === 1 ? '' : 's'}: ${count.added} added, ${count.known} known, ${count.unwritten} not written, ${count.changed} changed or revoked, ${count.failed} failed, ${count.skipped} not scanned\n`,
  );
  return good ? 0 : 1;
}
