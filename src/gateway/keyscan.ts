/**
 * The host keys of inventory hosts, fetched as `sshgate keyscan` fetches them: each host scanned
 * before login (host-key-scan.ts), directly or through a tunnel of its jump host's connection,
 * judged against known_hosts (scan-verdict.ts), shown, and recorded once a person (or `--yes`)
 * confirms it.
 *
 * Nothing is sent through a jump host whose key has not been verified: a tunnel is opened on the
 * pool's connection to the hop, which checks every hop's key against known_hosts (strictly,
 * whatever host_key_policy says) before it logs in. So the hosts are taken shallowest first, a
 * level at a time: the hosts reached directly, then those behind one hop, and so on. A hop that
 * known_hosts does not know yet is scanned in its level too, even when it was not asked for, and
 * shown and confirmed like the others; a host whose hop is still unknown after its level (declined,
 * changed, unreachable) is not scanned, and says which hop stopped it.
 */
import { jumpChain, type Inventory } from '../config/load-inventory.js';
import type { HostEntry } from '../config/file-formats.js';
import { DEFAULTS } from '../defaults.js';
import { SshgateError } from '../errors.js';
import { dial } from '../ssh/connect.js';
import { scanHostKeys } from '../ssh/host-key-scan.js';
import { KnownHostsFile, recordHostKeys, type HostKeyChecker } from '../ssh/known-hosts-file.js';
import type { ConnectionPool } from '../ssh/pool.js';
import type { JudgedKey, ScanVerdict } from '../ssh/scan-verdict.js';
import { eachBounded } from './each-bounded.js';
import { addressCheck, targetFor, type TargetContext } from './targets.js';

/** A host to scan, and the hops before it (first hop first). */
export interface ScanStep {
  host: HostEntry;
  hops: string[];
  /** Named by the call; false for a hop scanned only because known_hosts lacks it. */
  asked: boolean;
}

export type HostScan = ScanStep &
  (
    | {
        kind: 'scanned';
        verdict: ScanVerdict;
        /** The keys appended to known_hosts (none until confirmed, and none unless the host was new). */
        written: JudgedKey[];
        /** Whether the lines written name the host hashed. */
        hashed: boolean;
        /** The keys of a new host were shown but not confirmed. */
        declined: boolean;
      }
    | { kind: 'failed'; error: SshgateError }
    | { kind: 'skipped'; reason: string }
  );

export interface KeyscanDeps {
  inventory: Inventory;
  /** Its hostKeys are ignored: jump hops are verified against knownHostsPath as it is now. */
  ctx: TargetContext;
  pool: ConnectionPool;
  knownHostsPath: string;
  /** Hosts scanned at once within a level. */
  concurrency?: number;
  /** The longest one key exchange may take. */
  timeoutMs?: number;
  /** Each host's scan as it is judged, in inventory order within its level; before `confirm`. */
  shown(scan: HostScan): void;
  /** Whether to record the keys of a new host; asked once per new host, after `shown`. */
  confirm(scan: HostScan & { kind: 'scanned' }): Promise<boolean>;
  /**
   * After a confirmed host's keys were recorded, or found recorded or changed by then (`scan`
   * says which), or could not be written (`failed`).
   */
  recorded(scan: HostScan): void;
}

/** Scans `selected` (and the unknown hops before them); every host's outcome, in the order scanned. */
export async function keyscan(selected: readonly HostEntry[], deps: KeyscanDeps): Promise<HostScan[]> {
  const checker = liveChecker(deps.knownHostsPath);
  const ctx: TargetContext = { ...deps.ctx, hostKeys: checker };
  const known = () => new KnownHostsFile(deps.knownHostsPath, 'strict');
  const levels = scanPlan(deps.inventory, selected, (h) => known().keysFor(h.host, h.port).length > 0);
  const outcome = new Map<string, HostScan>();
  const results: HostScan[] = [];
  const timeoutMs = deps.timeoutMs ?? DEFAULTS.connectTimeoutSeconds * 1000;
  for (const level of levels) {
    const file = known();
    const scans = await eachBounded(level, deps.concurrency ?? 8, async (step): Promise<HostScan> => {
      const reason = blocked(step, outcome, file, deps.inventory);
      if (reason) return { ...step, kind: 'skipped', reason };
      return scanStep(step, ctx, deps, timeoutMs);
    });
    for (const scanned of scans) {
      deps.shown(scanned);
      const scan = scanned.kind === 'scanned' && scanned.verdict.status === 'new' ? await record(scanned, deps) : scanned;
      outcome.set(scan.host.alias, scan);
      results.push(scan);
    }
  }
  return results;
}

/** A new host's keys, written once confirmed; a file that cannot be written makes the host failed. */
async function record(scan: HostScan & { kind: 'scanned' }, deps: KeyscanDeps): Promise<HostScan> {
  if (!(await deps.confirm(scan))) return { ...scan, declined: true };
  let done: HostScan;
  try {
    const rec = recordHostKeys(deps.knownHostsPath, scan.host.host, scan.host.port, scan.verdict.keys);
    done = { ...scan, verdict: rec.verdict, written: rec.written, hashed: rec.hashed };
  } catch (err) {
    if (!(err instanceof SshgateError)) throw err;
    done = { host: scan.host, hops: scan.hops, asked: scan.asked, kind: 'failed', error: err };
  }
  deps.recorded(done);
  return done;
}

/**
 * The hosts to scan, a level per jump depth, each level in inventory order: every selected host,
 * and every hop before one that `isKnown` says known_hosts lacks. A hop known_hosts knows is not
 * scanned: connecting through it verifies it.
 */
export function scanPlan(inventory: Inventory, selected: readonly HostEntry[], isKnown: (h: HostEntry) => boolean): ScanStep[][] {
  const steps = new Map<string, ScanStep>();
  const asked = new Set(selected.map((h) => h.alias));
  for (const host of selected) {
    const chain = jumpChain(inventory, host.alias);
    chain.forEach((alias, i) => {
      const hop = inventory.byAlias.get(alias);
      if (!hop || steps.has(alias)) return;
      if (!asked.has(alias) && isKnown(hop)) return;
      steps.set(alias, { host: hop, hops: chain.slice(0, i), asked: asked.has(alias) });
    });
  }
  const order = new Map(inventory.hosts.map((h, i) => [h.alias, i]));
  const levels: ScanStep[][] = [];
  for (const step of [...steps.values()].sort((a, b) => (order.get(a.host.alias) ?? 0) - (order.get(b.host.alias) ?? 0))) {
    (levels[step.hops.length] ??= []).push(step);
  }
  return levels.filter((l) => l !== undefined);
}

/** Why a step cannot be scanned yet: a hop before it that this run did not verify, or that known_hosts lacks. */
function blocked(step: ScanStep, outcome: ReadonlyMap<string, HostScan>, file: KnownHostsFile, inventory: Inventory): string | undefined {
  for (const alias of step.hops) {
    const scan = outcome.get(alias);
    if (scan?.kind === 'failed') return `its jump host "${alias}" could not be scanned`;
    if (scan?.kind === 'skipped') return `its jump host "${alias}" was not scanned`;
    if (scan?.kind === 'scanned' && scan.verdict.status !== 'known' && scan.written.length === 0) {
      return scan.verdict.status === 'new'
        ? `its jump host "${alias}" is not in known_hosts: its keys were not recorded`
        : `the key of its jump host "${alias}" is ${scan.verdict.status === 'revoked' ? 'revoked' : 'not the one known_hosts holds'}`;
    }
    const hop = inventory.byAlias.get(alias);
    if (hop && file.keysFor(hop.host, hop.port).length === 0) return `its jump host "${alias}" is not in known_hosts`;
  }
  return undefined;
}

async function scanStep(step: ScanStep, ctx: TargetContext, deps: KeyscanDeps, timeoutMs: number): Promise<HostScan> {
  const { host } = step;
  const to = { alias: host.alias, host: host.host, port: host.port, checkAddress: addressCheck(host, ctx.network) };
  try {
    const jumpAlias = step.hops.at(-1);
    const jump = jumpAlias === undefined ? undefined : deps.inventory.byAlias.get(jumpAlias);
    const via = jump ? targetFor(jump, ctx) : undefined;
    const keys = await scanHostKeys({
      ...to,
      timeoutMs,
      open: via
        ? (signal) => deps.pool.tunnel(via, to, signal, Date.now() + timeoutMs * (step.hops.length + 1))
        : (signal) => dial({ ...to, signal }),
    });
    const verdict = new KnownHostsFile(deps.knownHostsPath, 'strict').judge(host.host, host.port, keys);
    return { ...step, kind: 'scanned', verdict, written: [], hashed: false, declined: false };
  } catch (err) {
    const error =
      err instanceof SshgateError ? err : new SshgateError('internal', `the key scan of host "${host.alias}" failed`, 'see the log');
    return { ...step, kind: 'failed', error };
  }
}

/** Checks each key against the file as it is at that moment: keys recorded earlier in the run count. */
function liveChecker(path: string): HostKeyChecker {
  return { path, verify: (host, port, key) => new KnownHostsFile(path, 'strict').verify(host, port, key) };
}
