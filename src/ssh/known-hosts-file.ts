/**
 * The known_hosts file as the connections see it: every offered key is checked against it, and
 * under `accept-new` a host that has no entry at all gets one appended (a host with a different
 * key is still refused — that is the whole point of the file), hashed when the file hashes its
 * names, as `sshgate keyscan` writes it. There is no accept-anything mode.
 */
import { appendFileSync, closeSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { DEFAULTS } from '../defaults.js';
import { ConfigError, SshgateError } from '../errors.js';
import {
  entriesFor,
  keyTypeOf,
  knownHostsLine,
  parseKnownHosts,
  verifyHostKey,
  type HostKeyVerdict,
  type KnownHostEntry,
  type KnownHosts,
  usesHashedNames,
} from './host-keys.js';
import type { ScannedKey } from './host-key-scan.js';
import { judgeScan, type JudgedKey, type ScanVerdict } from './scan-verdict.js';

export type HostKeyPolicy = 'strict' | 'accept-new';

export interface HostKeyChecker {
  /** The file, named in errors so that a person edits the right one. */
  readonly path: string;
  verify(host: string, port: number, key: Buffer): HostKeyVerdict;
  /** The @cert-authority lines that apply to the host: sshgate asks it for a host certificate when there are any. */
  authoritiesFor?(host: string, port: number): KnownHostEntry[];
}

export interface AcceptedKey {
  host: string;
  port: number;
  keyType: string;
}

/** `known_hosts_path` from the policy (resolved against the policy file that names it), else `<config>/known_hosts`. */
export function knownHostsPathFor(configured: string | undefined, configDir: string): string {
  if (!configured) return join(configDir, DEFAULTS.knownHostsName);
  return isAbsolute(configured) ? configured : resolve(configured);
}

/** The known_hosts a configuration names, read; one that cannot be read is a configuration error. */
export function openKnownHosts(
  configured: string | undefined,
  configDir: string,
  policy: HostKeyPolicy,
  onAccept?: (k: AcceptedKey) => void,
): KnownHostsFile {
  const path = knownHostsPathFor(configured, configDir);
  try {
    return new KnownHostsFile(path, policy, onAccept);
  } catch (err) {
    if (err instanceof SshgateError) throw new ConfigError([{ file: path, line: 1, col: 1, message: `${err.message}; ${err.hint ?? ''}` }]);
    throw err;
  }
}

export class KnownHostsFile implements HostKeyChecker {
  private known: KnownHosts;

  constructor(
    readonly path: string,
    readonly policy: HostKeyPolicy,
    private readonly onAccept: (k: AcceptedKey) => void = () => undefined,
  ) {
    this.known = parseKnownHosts(readKnownHosts(path));
  }

  /** Lines not used for checking, each with why: `sshgate check` and the server log name them. */
  get skipped(): KnownHosts['skipped'] {
    return this.known.skipped;
  }

  /** The keys recorded for `host` on `port` (revoked ones and CAs aside): none means the host is unknown, unless a CA applies. */
  keysFor(host: string, port: number): KnownHostEntry[] {
    return entriesFor(this.known, host, port).filter((e) => e.marker === undefined);
  }

  /** What scanned keys of `host` on `port` mean against the file (scan-verdict.ts). */
  judge(host: string, port: number, keys: readonly ScannedKey[]): ScanVerdict {
    return judgeScan(this.known, host, port, keys);
  }

  authoritiesFor(host: string, port: number): KnownHostEntry[] {
    return entriesFor(this.known, host, port).filter((e) => e.marker === 'cert-authority');
  }

  verify(host: string, port: number, key: Buffer): HostKeyVerdict {
    const verdict = verifyHostKey(this.known, host, port, key);
    if (verdict.status !== 'unknown' || this.policy !== 'accept-new') return verdict;
    // A host that known_hosts vouches for through a CA must show a certificate that CA signed (or
    // a key recorded for it): accept-new never records a key in its place, so that a key of an
    // impostor is not taken on first use for a host whose key was never to be taken on trust.
    // For the same reason a certificate that did not make its host known is never recorded.
    if (verdict.authorityLine !== undefined || verdict.certificate !== undefined) return verdict;
    // Another sshgate may share this file: decide on what it holds now, under a lock, so that two
    // processes can never record two different keys for one new host.
    const unlock = lockFile(`${this.path}.lock`);
    if (!unlock) return verdict;
    try {
      const text = readKnownHosts(this.path);
      this.known = parseKnownHosts(text);
      const now = verifyHostKey(this.known, host, port, key);
      if (now.status !== 'unknown' || now.authorityLine !== undefined || now.certificate !== undefined) return now;
      const keyType = keyTypeOf(key);
      const line = knownHostsLine(host, port, keyType, key, { hashed: usesHashedNames(this.known) });
      try {
        appendFileSync(this.path, onALineOfItsOwn(text, line), { mode: 0o600 });
      } catch {
        // Accepting a key we cannot record would accept it again, unchecked, after every restart.
        return now;
      }
      this.known = parseKnownHosts(readKnownHosts(this.path));
      this.onAccept({ host, port, keyType });
      return verifyHostKey(this.known, host, port, key);
    } finally {
      unlock();
    }
  }
}

/** What recordHostKeys did: the keys it appended, judged against the file as it was just before. */
export interface Recorded {
  verdict: ScanVerdict;
  /** The keys appended: those of a new host; none for a host known, changed or revoked by now. */
  written: JudgedKey[];
  hashed: boolean;
}

/**
 * Appends a scanned host's keys to the file, if the host is still new there. The file is read
 * again under the lock that accept-new takes, so a key another sshgate recorded meanwhile is
 * neither written twice nor overwritten, and a key that differs from it is refused. Lines are
 * hashed when the file hashes its names (usesHashedNames); a file that does not exist is created
 * with mode 0600.
 */
export function recordHostKeys(path: string, host: string, port: number, keys: readonly ScannedKey[]): Recorded {
  const unlock = lockFile(`${path}.lock`);
  if (!unlock) {
    throw new SshgateError(
      'busy',
      `known_hosts is locked by another process: ${path}.lock`,
      'try again in a moment; remove the .lock file if no sshgate is running',
    );
  }
  try {
    const text = readKnownHosts(path);
    const known = parseKnownHosts(text);
    const verdict = judgeScan(known, host, port, keys);
    const hashed = usesHashedNames(known);
    if (verdict.status !== 'new') return { verdict, written: [], hashed };
    const lines = verdict.keys.map((k) => knownHostsLine(host, port, k.keyType, k.key, { hashed })).join('');
    try {
      appendFileSync(path, onALineOfItsOwn(text, lines), { mode: 0o600 });
    } catch (err) {
      throw new SshgateError(
        'invalid_config',
        `known_hosts cannot be written: ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
        'make the file (and its folder) writable by this user, or point known_hosts_path elsewhere',
      );
    }
    return { verdict, written: verdict.keys, hashed };
  } finally {
    unlock();
  }
}

/** What to append to a file holding `text`: `lines`, after a newline if its last line lacks one (it would run into them). */
function onALineOfItsOwn(text: string, lines: string): string {
  return text !== '' && !text.endsWith('\n') ? `\n${lines}` : lines;
}

/** An exclusive lock file, waited for up to a second; a lock older than 10 s is taken as stale. */
function lockFile(path: string): (() => void) | undefined {
  const until = Date.now() + 1000;
  for (;;) {
    try {
      closeSync(openSync(path, 'wx', 0o600));
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
      try {
        if (Date.now() - statSync(path).mtimeMs > 10_000) rmSync(path, { force: true });
      } catch {
        // It went away meanwhile: try again.
      }
      if (Date.now() > until) return undefined;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}

function readKnownHosts(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new SshgateError(
      'invalid_config',
      `known_hosts cannot be read: ${path}`,
      'make the file readable by sshgate, or point known_hosts_path elsewhere',
    );
  }
}
