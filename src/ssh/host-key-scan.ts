/**
 * The host keys a host shows before anyone logs in, as ssh-keyscan finds them: one key exchange
 * per host key type sshgate can negotiate (algorithms.ts), each offering that type alone. A key is
 * taken only once its exchange has finished, so the host has signed the exchange with it: it
 * holds the private key. The connection then ends before authentication: no user name, key or
 * password is ever sent (ssh2 asks for the ssh-userauth service after the exchange; the
 * disconnect goes first). OpenSSH's `hostkeys-00@openssh.com` list comes only after a login, so
 * it is not used.
 */
import type { Duplex } from 'node:stream';
import type { ServerHostKeyAlgorithm } from 'ssh2';
import { SshgateError } from '../errors.js';
import { HOST_KEY_TYPES, KEX_ORDER } from './algorithms.js';
import { keyTypeOf } from './host-keys.js';
import { loadSsh2, type Ssh2 } from './ssh2.js';

export interface ScannedKey {
  /** The key's own type, as known_hosts writes it (`ssh-ed25519`, `ssh-rsa`). */
  keyType: string;
  /** The public key blob. */
  key: Buffer;
}

export interface ScanOptions {
  alias: string;
  host: string;
  port: number;
  /** A new stream to the host's SSH port for each exchange: a socket of our own, or a tunnel. */
  open: (signal: AbortSignal) => Promise<Duplex>;
  /** The longest one exchange may take. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * Every key the host offers among the types sshgate negotiates, in the order of HOST_KEY_TYPES.
 * The first exchange that fails for another reason than a type the host lacks (unreachable, a
 * timeout, not SSH) ends the scan with its error: the keys of a host half seen are not reported.
 */
export async function scanHostKeys(o: ScanOptions): Promise<ScannedKey[]> {
  const ssh2 = await loadSsh2();
  const keys: ScannedKey[] = [];
  for (const { algorithms } of HOST_KEY_TYPES) {
    const found = await exchange(ssh2, o, algorithms);
    if (found) keys.push(found);
  }
  if (keys.length === 0) {
    throw new SshgateError(
      'connect_failed',
      `host "${o.alias}" (${o.host}:${o.port}) offers none of the host key types sshgate accepts (${HOST_KEY_TYPES.map((t) => t.keyType).join(', ')})`,
      "give the host an ed25519 host key (ssh-keygen -A), and list it in sshd's HostKey",
    );
  }
  return keys;
}

/** The user name ssh2 needs to be configured with; the scan ends before it could be sent. */
const NO_USER = 'sshgate-keyscan';

/** One key exchange offering only `algorithms`: the key the host proved, or undefined when it has none of them. */
function exchange(ssh2: Ssh2, o: ScanOptions, algorithms: readonly ServerHostKeyAlgorithm[]): Promise<ScannedKey | undefined> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    const opening = new AbortController();
    let socket: Duplex | undefined;
    let key: Buffer | undefined;
    let settled = false;
    const end = (then: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      opening.abort();
      client.end();
      socket?.destroy();
      then();
    };
    const onAbort = () =>
      end(() => reject(new SshgateError('timeout', `the key scan of host "${o.alias}" was abandoned`, 'it was cancelled')));
    const timer = setTimeout(
      () =>
        end(() =>
          reject(
            new SshgateError(
              'timeout',
              `host "${o.alias}" (${o.host}:${o.port}) did not complete the key exchange within ${Math.round(o.timeoutMs / 1000)} s`,
              'check that the host is up and that the port speaks SSH',
            ),
          ),
        ),
      o.timeoutMs,
    );
    if (o.signal?.aborted) return onAbort();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    o.open(opening.signal).then(
      (stream) => {
        if (settled) return void stream.destroy();
        socket = stream;
        // After the exchange: the host has signed it with the key (ssh2 checks that first).
        client.on('handshake', () => end(() => resolve(key ? { keyType: keyTypeOf(key), key } : undefined)));
        client.on('error', (err: Error) => {
          if (/no matching host key format/i.test(err.message)) return end(() => resolve(undefined));
          end(() =>
            reject(
              new SshgateError('connect_failed', `SSH with host "${o.alias}" failed: ${err.message}`, 'check that the port speaks SSH'),
            ),
          );
        });
        client.on('close', () =>
          end(() =>
            reject(
              new SshgateError(
                'connect_failed',
                `host "${o.alias}" closed the connection during the key exchange`,
                'check that the port speaks SSH and that sshd accepts this client',
              ),
            ),
          ),
        );
        try {
          client.connect({
            sock: stream,
            username: NO_USER,
            // Never reached (the connection ends at the handshake); were it, no method is offered.
            authHandler: () => false,
            algorithms: { kex: [...KEX_ORDER], serverHostKey: [...algorithms] },
            readyTimeout: o.timeoutMs,
            hostVerifier: (offered: Buffer) => {
              key = Buffer.from(offered);
              return true;
            },
          });
        } catch (err) {
          // ssh2 refuses an algorithm this Node cannot do (ed25519 before Node 12): not offered, then.
          const message = err instanceof Error ? err.message : String(err);
          end(() =>
            /unsupported/i.test(message)
              ? resolve(undefined)
              : reject(new SshgateError('internal', `the key scan of host "${o.alias}" could not start: ${message}`, 'see the log')),
          );
        }
      },
      (err: unknown) =>
        end(() =>
          reject(err instanceof SshgateError ? err : new SshgateError('connect_failed', `cannot reach host "${o.alias}"`, 'see the log')),
        ),
    );
  });
}
