/**
 * What a host's scanned keys mean against known_hosts, judged as a connection would judge them
 * and as OpenSSH warns:
 *
 * - a host known_hosts has no key for is `new`: every key it showed may be recorded;
 * - a host whose every key type known_hosts holds shows those same keys: `known`;
 * - a key of a type known_hosts holds for the host, but another key (or a host that shows none
 *   of its recorded keys, which a connection refuses as well): `changed`, and nothing of the host
 *   is recorded;
 * - a key marked `@revoked`: `revoked`, and nothing is recorded either.
 *
 * A key of a further type, shown by a host known by another key, is `unrecorded`: an
 * unauthenticated scan cannot tell that it comes from the same host as the recorded key (OpenSSH
 * learns such keys only after a login, through hostkeys-prove), and an attacker's key added for a
 * known host would let them be that host whenever the key exchange picks its type.
 */
import { entriesFor, fingerprint, keyTypeOf, type KnownHosts } from './host-keys.js';
import type { ScannedKey } from './host-key-scan.js';

export type KeyState = 'known' | 'new' | 'changed' | 'revoked' | 'unrecorded';

export interface JudgedKey extends ScannedKey {
  fingerprint: string;
  state: KeyState;
}

export interface ScanVerdict {
  status: 'known' | 'new' | 'changed' | 'revoked';
  keys: JudgedKey[];
  /** The keys known_hosts holds for the host (revoked ones aside): what a changed key is compared with. */
  recorded: { line: number; keyType: string; fingerprint: string }[];
}

export function judgeScan(known: KnownHosts, host: string, port: number, scanned: readonly ScannedKey[]): ScanVerdict {
  const applicable = entriesFor(known, host, port);
  const revoked = applicable.filter((e) => e.marker === 'revoked');
  const recorded = applicable.filter((e) => e.marker === undefined);
  const keys = scanned.map((s): JudgedKey => {
    const judged = (state: KeyState): JudgedKey => ({ ...s, fingerprint: fingerprint(s.key), state });
    if (revoked.some((e) => e.key.equals(s.key))) return judged('revoked');
    if (recorded.some((e) => e.key.equals(s.key))) return judged('known');
    if (recorded.length === 0) return judged('new');
    if (recorded.some((e) => keyTypeOf(e.key) === s.keyType)) return judged('changed');
    return judged('unrecorded');
  });
  const status = keys.some((k) => k.state === 'revoked')
    ? 'revoked'
    : recorded.length === 0
      ? 'new'
      : keys.some((k) => k.state === 'changed') || !keys.some((k) => k.state === 'known')
        ? 'changed'
        : 'known';
  return {
    status,
    keys,
    recorded: recorded.map((e) => ({ line: e.line, keyType: keyTypeOf(e.key), fingerprint: fingerprint(e.key) })),
  };
}
