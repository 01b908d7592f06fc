/**
 * Opens one verified ssh2 connection: our own TCP socket (TCP_NODELAY on, so a warm exec does not
 * wait on delayed ACKs; a packet's writes coalesced, coalesce-writes.ts) or a tunnel through a jump host's connection, the host key checked against
 * known_hosts before authentication, keepalives on, and the whole attempt bounded by a deadline
 * and an AbortSignal. `dial` is the first half alone, for the host key scan (host-key-scan.ts).
 */
import { lookup } from 'node:dns/promises';
import { isIP, connect as tcpConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AlgorithmList, AnyAuthMethod, Client, ServerHostKeyAlgorithm } from 'ssh2';
import { SshgateError } from '../errors.js';
import { KEX_ORDER } from './algorithms.js';
import { certificateAgent } from './agent.js';
import { AGENT_HINT, refusalHint, type AuthConfig } from './auth.js';
import { HOST_CERTIFICATE_ALGORITHMS } from './certificates.js';
import { coalesceWrites } from './coalesce-writes.js';
import type { HostKeyVerdict } from './host-keys.js';
import type { HostKeyChecker } from './known-hosts-file.js';
import { signPublickeyRequests } from './signed-publickey.js';
import { loadSsh2, ssh2CertificatesUnavailable, type Ssh2 } from './ssh2.js';

export interface ConnectOptions {
  alias: string;
  host: string;
  port: number;
  auth: AuthConfig;
  hostKeys: HostKeyChecker;
  timeoutMs: number;
  signal?: AbortSignal;
  keepaliveMs?: number;
  /** Tunnel through this (jump host's) connection instead of opening a TCP socket. */
  via?: Client;
  /** Called with the address before connecting (resolved, for a direct connect); an error refuses it. */
  checkAddress?: (address: string) => SshgateError | undefined;
}

/** What a connection was verified and logged in with, for a report (`sshgate check --connect`). */
export interface ConnectionFacts {
  /** The host key the host proved it holds, as found in known_hosts. */
  hostKey: Buffer;
  /** The login method that succeeded: publickey (a key file), agent or password. */
  authMethod: 'publickey' | 'agent' | 'password';
}

const facts = new WeakMap<Client, ConnectionFacts>();

/** How the connection was made, for one that openConnection made; undefined for any other. */
export function connectionFacts(client: Client): ConnectionFacts | undefined {
  return facts.get(client);
}

export async function openConnection(o: ConnectOptions): Promise<Client> {
  const ssh2 = await loadSsh2();
  // The login methods before anything connects: a certificate file that changed and no longer
  // fits its key fails here, with what to fix.
  const methods = authMethods(ssh2, o.auth);
  const certificates = ssh2CertificatesUnavailable() === undefined;
  // A host that known_hosts vouches for through a CA is asked for its certificate first; others
  // are asked for exactly what they were asked for before certificates existed.
  const askCertificate = certificates && (o.hostKeys.authoritiesFor?.(o.host, o.port).length ?? 0) > 0;
  const serverHostKey = { prepend: [...HOST_CERTIFICATE_ALGORITHMS] } as unknown as AlgorithmList<ServerHostKeyAlgorithm>;
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let verdict: HostKeyVerdict | undefined;
    let offeredKey: Buffer | undefined;
    let lastMethod: AnyAuthMethod | undefined;
    let agentFailure: string | undefined;
    let settled = false;
    const held: { socket?: Duplex } = {};
    const dialing = new AbortController();
    const fail = (err: SshgateError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      dialing.abort();
      client.end();
      held.socket?.destroy();
      reject(err);
    };
    const onAbort = () =>
      fail(new SshgateError('timeout', `connecting to host "${o.alias}" was abandoned`, 'the task was cancelled or ran out of time'));
    const timer = setTimeout(
      () =>
        fail(
          new SshgateError(
            'timeout',
            `host "${o.alias}" (${o.host}:${o.port}) did not complete the SSH handshake within ${Math.round(o.timeoutMs / 1000)} s`,
            'check that the host is up and that the port speaks SSH',
          ),
        ),
      o.timeoutMs,
    );
    if (o.signal?.aborted) return onAbort();
    o.signal?.addEventListener('abort', onAbort, { once: true });

    const handshake = (socket: Duplex) => {
      client.on('ready', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
        if (offeredKey && lastMethod) facts.set(client, { hostKey: offeredKey, authMethod: methodName(lastMethod) });
        resolve(client);
      });
      client.on('error', (err: Error & { level?: string; code?: string }) => {
        if (verdict && verdict.status !== 'match') return fail(hostKeyError(o, verdict, certificates));
        // An agent that cannot be reached or cannot sign: ssh2 goes on with the next method, and
        // the refusal at the end says why the agent offered nothing.
        if (err.level === 'agent') return void (agentFailure ??= err.code ?? err.message);
        if (err.level === 'client-authentication') return fail(authRefused(o, agentFailure));
        fail(new SshgateError('connect_failed', `SSH with host "${o.alias}" failed: ${err.message}`, 'check that the port speaks SSH'));
      });
      client.on('close', () =>
        fail(
          new SshgateError(
            'connect_failed',
            `host "${o.alias}" closed the connection during the SSH handshake`,
            'check that the port speaks SSH and that sshd accepts this client',
          ),
        ),
      );
      client.connect({
        sock: socket,
        username: o.auth.username,
        // Straight to the configured methods: no "none" probe, one round trip less per connection.
        authHandler: (_left, _partial, next) => {
          lastMethod = methods.shift();
          next(lastMethod ?? (false as unknown as AnyAuthMethod));
        },
        algorithms: { kex: [...KEX_ORDER], ...(askCertificate ? { serverHostKey } : {}) },
        keepaliveInterval: o.keepaliveMs ?? 15_000,
        keepaliveCountMax: 3,
        readyTimeout: o.timeoutMs,
        hostVerifier: (key: Buffer) => {
          verdict = o.hostKeys.verify(o.host, o.port, key);
          offeredKey = key;
          return verdict.status === 'match';
        },
      });
      signPublickeyRequests(client);
    };

    dial({ ...o, signal: dialing.signal }).then(
      (socket) => {
        if (settled) return void socket.destroy();
        held.socket = socket;
        // A socket of our own that breaks during the handshake: said as for a host not reached.
        if (!o.via) socket.once('error', (err: NodeJS.ErrnoException) => fail(unreachable(o, err.code ?? 'network error')));
        handshake(socket);
      },
      (err: SshgateError) => fail(err),
    );
  });
}

export interface DialOptions {
  alias: string;
  host: string;
  port: number;
  /** Tunnel through this (jump host's) connection instead of opening a TCP socket. */
  via?: Client;
  /** Called with the address before connecting (resolved, for a direct connect); an error refuses it. */
  checkAddress?: (address: string) => SshgateError | undefined;
  /** Gives up: a socket still connecting is destroyed, a tunnel that opens later is closed. */
  signal?: AbortSignal;
}

/**
 * A byte stream to the host's SSH port: a TCP socket of our own (TCP_NODELAY on, a packet's
 * writes coalesced), or a direct-tcpip tunnel through `via`. The network policy is asked about the
 * address first; behind a jump host the last hop resolves a name itself, so only an address can
 * be checked there.
 */
export function dial(o: DialOptions): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const gaveUp = () =>
      new SshgateError('timeout', `connecting to host "${o.alias}" was abandoned`, 'it ran out of time or was cancelled');
    if (o.signal?.aborted) return reject(gaveUp());
    if (o.via) {
      const refused = isIP(o.host) !== 0 ? o.checkAddress?.(o.host) : undefined;
      if (refused) return reject(refused);
      o.via.forwardOut('127.0.0.1', 0, o.host, o.port, (err, stream) => {
        if (err) return reject(unreachable(o, `the jump host could not open a tunnel: ${err.message}`));
        if (o.signal?.aborted) {
          stream.close();
          return reject(gaveUp());
        }
        resolve(stream);
      });
      return;
    }
    resolveAddress(o.host).then(
      (address) => {
        if (o.signal?.aborted) return reject(gaveUp());
        const refused = o.checkAddress?.(address);
        if (refused) return reject(refused);
        const socket: Socket = coalesceWrites(tcpConnect({ host: address, port: o.port }));
        socket.setNoDelay(true);
        const onAbort = () => {
          socket.destroy();
          reject(gaveUp());
        };
        o.signal?.addEventListener('abort', onAbort, { once: true });
        const onError = (err: NodeJS.ErrnoException) => {
          o.signal?.removeEventListener('abort', onAbort);
          reject(unreachable(o, err.code ?? 'network error'));
        };
        socket.once('error', onError);
        socket.once('connect', () => {
          o.signal?.removeEventListener('abort', onAbort);
          socket.removeListener('error', onError);
          resolve(socket);
        });
      },
      (err: NodeJS.ErrnoException) => reject(unreachable(o, `name lookup failed: ${err.code ?? 'error'}`)),
    );
  });
}

function unreachable(o: { alias: string; host: string; port: number }, why: string): SshgateError {
  return new SshgateError(
    'connect_failed',
    `cannot reach host "${o.alias}" at ${o.host}:${o.port} (${why})`,
    'check the address, the port and the network policy',
  );
}

async function resolveAddress(host: string): Promise<string> {
  if (isIP(host) !== 0) return host;
  return (await lookup(host)).address;
}

function hostKeyError(o: ConnectOptions, v: HostKeyVerdict, certificates: boolean): SshgateError {
  if (v.status === 'certificate_refused') {
    return new SshgateError(
      'host_key_mismatch',
      `the host certificate of "${o.alias}" (${o.host}:${o.port})${v.keyId !== undefined ? `, key id ${JSON.stringify(v.keyId)},` : ''} is refused: ${v.reason}`,
      v.line !== undefined
        ? `known_hosts (${o.hostKeys.path}) line ${v.line} trusts a CA for this host; the host must present a host certificate from it, valid now, naming "${o.host}" (ssh-keygen -s CA -h -n ${o.host} …)`
        : 'the host must present a well-formed OpenSSH host certificate',
    );
  }
  if (v.status === 'mismatch') {
    return new SshgateError(
      'host_key_mismatch',
      `the host key of "${o.alias}" (${o.host}:${o.port}) has changed: offered ${v.offered}, expected ${v.expected.join(' or ')}`,
      'if the host was really re-keyed, replace its line in known_hosts after checking the new fingerprint out of band',
    );
  }
  if (v.status === 'revoked') {
    return new SshgateError(
      'host_key_mismatch',
      v.authority
        ? `host "${o.alias}" offered a certificate signed by a revoked CA (${v.offered})`
        : `host "${o.alias}" offered a revoked key (${v.offered})`,
      'the key is marked @revoked in known_hosts',
    );
  }
  if (v.status === 'unknown' && v.authorityLine !== undefined) {
    return new SshgateError(
      'host_key_unknown',
      `host "${o.alias}" (${o.host}:${o.port}) offered a plain host key, not a certificate, and known_hosts (${o.hostKeys.path}) has no line for that key`,
      certificates
        ? `line ${v.authorityLine} trusts a CA for this host: configure HostCertificate in the host's sshd_config (a host key signed with ssh-keygen -s CA -h -n ${o.host}), or add the host's key, checked out of band`
        : `line ${v.authorityLine} trusts a CA for this host, but this sshgate cannot check host certificates (${ssh2CertificatesUnavailable() ?? 'unavailable'}): add the host's key, checked out of band`,
    );
  }
  if (v.status === 'unknown' && v.certificate !== undefined) {
    return new SshgateError(
      'host_key_unknown',
      `host "${o.alias}" (${o.host}:${o.port}) is not in known_hosts (${o.hostKeys.path}): it offered a host certificate, but ${v.certificate}`,
      `add a @cert-authority line for the CA that signs its host certificates (checked out of band), e.g. @cert-authority ${o.port === 22 ? o.host : `[${o.host}]:${o.port}`} ssh-ed25519 AAAA…`,
    );
  }
  if (v.status === 'unknown' && v.port22Line !== undefined) {
    // A plain ssh-keyscan (no -p) records the host for port 22; OpenSSH looks up [host]:port.
    const token = `[${o.host}]:${o.port}`;
    return new SshgateError(
      'host_key_unknown',
      `host "${o.alias}" (${o.host}:${o.port}) is not in known_hosts (${o.hostKeys.path}): line ${v.port22Line} records ${o.host} on port 22, but the host listens on port ${o.port}, where its key is looked up as ${token}`,
      `if that key is the one on port ${o.port}, write the line's host as ${token}; else add the key, checked out of band (ssh-keyscan -t ed25519 -p ${o.port} ${o.host})`,
    );
  }
  return new SshgateError(
    'host_key_unknown',
    `host "${o.alias}" (${o.host}:${o.port}) is not in known_hosts (${o.hostKeys.path})`,
    `add its key to known_hosts: sshgate keyscan ${o.alias} shows it and asks before it writes (check the fingerprint out of band), or set host_key_policy: accept-new with a writable known_hosts`,
  );
}

/** The host was reached and its key verified, but it accepted none of the credentials. */
export class LoginRefused extends SshgateError {
  constructor(message: string, hint: string) {
    super('connect_failed', message, hint);
  }
}

/** The host said no to every method; when the agent could not even be asked, that first. */
function authRefused(o: ConnectOptions, agentFailure: string | undefined): SshgateError {
  if (agentFailure !== undefined && o.auth.agent) {
    const others = o.auth.privateKey !== undefined || o.auth.password !== undefined;
    return new LoginRefused(
      `cannot log in to host "${o.alias}" as "${o.auth.username}": the ssh-agent at SSH_AUTH_SOCK (${o.auth.agent}) could not be used (${agentFailure})${others ? ', and the host refused the other credentials' : ''}`,
      AGENT_HINT,
    );
  }
  return new LoginRefused(`host "${o.alias}" refused the credentials for user "${o.auth.username}"`, refusalHint(o.alias, o.auth));
}

function methodName(m: AnyAuthMethod): ConnectionFacts['authMethod'] {
  return m.type === 'agent' ? 'agent' : m.type === 'password' ? 'password' : 'publickey';
}

/**
 * The login methods to try, in order: the key's certificate, the key, the agent (its certificates
 * included), the password. The certificate comes before the key alone, as OpenSSH offers them.
 */
function authMethods(ssh2: Ssh2, auth: AuthConfig): AnyAuthMethod[] {
  const username = auth.username;
  const methods: AnyAuthMethod[] = [];
  if (auth.certificate) methods.push({ type: 'publickey', username, key: auth.certificate.current().key });
  if (auth.parsedKey || auth.privateKey) {
    methods.push({
      type: 'publickey',
      username,
      key: auth.parsedKey ?? (auth.privateKey as Buffer),
      ...(auth.passphrase !== undefined ? { passphrase: auth.passphrase } : {}),
    });
  }
  if (auth.agent) {
    const agent = ssh2CertificatesUnavailable() === undefined ? certificateAgent(ssh2, auth.agent) : auth.agent;
    methods.push({ type: 'agent', username, agent });
  }
  if (auth.password !== undefined) methods.push({ type: 'password', username, password: auth.password });
  return methods;
}
