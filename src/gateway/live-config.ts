/**
 * The configuration a gateway serves from: one immutable snapshot of the files, the known_hosts
 * file they name and the targets built from them, swapped whole on reload. Whoever holds a target
 * keeps the snapshot it came from, so a task runs to its end under the configuration it started
 * under. Credentials are read once per host and snapshot, by ready() (a server: just after its
 * start) and on reload, unless told otherwise.
 */
import type { Logger } from 'pino';
import { hostByAlias, hostsWithTag } from '../config/select-hosts.js';
import type { HostEntry } from '../config/file-formats.js';
import { ConfigError, SshgateError } from '../errors.js';
import { loadAll, shellParser, type Loaded, type Paths } from '../policy/load.js';
import { hostToken } from '../ssh/host-keys.js';
import { openKnownHosts, type KnownHostsFile } from '../ssh/known-hosts-file.js';
import { loadSsh2 } from '../ssh/ssh2.js';
import type { AuthConfig } from '../ssh/auth.js';
import type { HostTarget } from '../ssh/pool.js';
import { targetContextFor, targetFor, targetProblems } from './targets.js';

export interface LiveConfigDeps {
  paths: Paths;
  env: Readonly<Record<string, string | undefined>>;
  logger: Logger;
  /**
   * Default true: every host's credentials are read, and the problems of the configuration (those
   * and ignored known_hosts lines) logged, at start and on reload. `sshgate run` reads only the
   * hosts it runs on and warns of nothing else: its stderr is the remote command's.
   */
  readCredentialsAtStart?: boolean;
  /** What a person at a terminal sees even with the log off (`sshgate run`): a host key recorded. */
  notice?: (message: string) => void;
}

interface Snapshot {
  loaded: Loaded;
  hostKeys: KnownHostsFile;
  /** Targets with their credentials read and keys parsed, once per host and configuration. */
  targets: Map<string, HostTarget>;
  auths: Map<string, AuthConfig>;
}

export class LiveConfig {
  private readonly reloadListeners: (() => void)[] = [];
  private readying: Promise<void> | undefined;

  private constructor(
    private readonly deps: LiveConfigDeps,
    private snap: Snapshot,
  ) {}

  /**
   * Loads the configuration; a ConfigError says what is wrong with it. What only a call needs (the
   * SSH stack, the shell grammar, the credentials) is ready() to await, or to start in the background.
   */
  static async load(deps: LiveConfigDeps): Promise<LiveConfig> {
    return new LiveConfig(deps, await loadSnapshot(deps));
  }

  /**
   * Loads ssh2 and the shell grammar, then reads every host's credentials (prepareTargets); once,
   * every later call gets the same promise. Before it resolves nothing may be decided or reach a
   * host: target() and the engine need both.
   */
  ready(): Promise<void> {
    this.readying ??= Promise.all([loadSsh2(), shellParser()]).then(() => this.prepareTargets());
    return this.readying;
  }

  get loaded(): Loaded {
    return this.snap.loaded;
  }

  get hostKeys(): KnownHostsFile {
    return this.snap.hostKeys;
  }

  /**
   * Reads the files again and swaps them in whole; a bad file leaves the running configuration
   * alone and is an invalid_config error.
   */
  async reload(): Promise<void> {
    let next: Snapshot;
    try {
      next = await loadSnapshot(this.deps);
    } catch (err) {
      if (err instanceof ConfigError) {
        throw new SshgateError(
          'invalid_config',
          `the new configuration was not loaded, the old one stays: ${err.message}`,
          'fix the files listed and reload again',
        );
      }
      throw err;
    }
    await this.ready();
    this.snap = next;
    this.prepareTargets();
    for (const listener of this.reloadListeners) listener();
    this.deps.logger.info({ hosts: next.loaded.inventory.hosts.length, rules: next.loaded.policy.rules.length }, 'configuration reloaded');
  }

  /** Runs after every successful reload: what lives beside the configuration rereads its files. */
  onReload(listener: () => void): void {
    this.reloadListeners.push(listener);
  }

  /** Keys and secrets are read on first use after a start or a reload; a failure is not kept. */
  target(host: HostEntry): HostTarget {
    const snap = this.snap;
    let target = snap.targets.get(host.alias);
    if (!target) {
      target = targetFor(host, targetContextFor(snap.loaded, snap.hostKeys, this.deps.paths, this.deps.env, snap.auths));
      snap.targets.set(host.alias, target);
    }
    return target;
  }

  host(alias: string): HostEntry {
    return hostByAlias(this.snap.loaded.inventory, alias);
  }

  hostsWithTag(tag: string): HostEntry[] {
    return hostsWithTag(this.snap.loaded.inventory, tag);
  }

  /**
   * Reads every host's credentials now rather than on its first task: a missing secret, an
   * unreadable key or an ignored known_hosts line shows in the log at start and on reload, and a
   * first fan-out does not read them all at once.
   */
  private prepareTargets(): void {
    if (this.deps.readCredentialsAtStart === false) return;
    const { hostKeys, loaded } = this.snap;
    // Which file every host's key is checked against: a relative path that resolved somewhere
    // unexpected shows here, not as "not in known_hosts" on each host.
    this.deps.logger.info(
      { known_hosts: hostKeys.path, hosts: loaded.inventory.hosts.length, host_key_policy: loaded.policy.hostKeyPolicy },
      'host keys are checked against this known_hosts file',
    );
    for (const s of hostKeys.skipped) this.deps.logger.warn({ file: hostKeys.path, line: s.line }, `known_hosts line ignored: ${s.reason}`);
    for (const { aliases, error } of targetProblems(loaded.inventory.hosts, (h) => this.target(h))) {
      this.deps.logger.warn({ aliases, code: error.code, hint: error.hint }, error.message);
    }
  }
}

async function loadSnapshot(d: LiveConfigDeps): Promise<Snapshot> {
  const loaded = await loadAll(d.paths, { grammar: 'later' });
  const hostKeys = openKnownHosts(loaded.policy.knownHostsPath, d.paths.configDir, loaded.policy.hostKeyPolicy, (k) => {
    d.logger.warn(k, 'host key of a new host recorded (accept-new)');
    d.notice?.(`recorded the ${k.keyType} host key of ${hostToken(k.host, k.port)} in ${hostKeys.path} (host_key_policy: accept-new)`);
  });
  return { loaded, hostKeys, targets: new Map(), auths: new Map() };
}
