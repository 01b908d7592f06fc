/**
 * From a credential reference to what ssh2 needs to log in: the key (decrypted with its
 * passphrase secret), the agent socket, or the password secret. Secrets are read from
 * SSHGATE_SECRET_<NAME> or, failing that, from <secrets dir>/<name>; they never appear in errors.
 */
import { closeSync, fstatSync, openSync, readFileSync, statSync, type Stats } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { ParsedKey } from 'ssh2';
import { keyPathProblem } from '../config/load-inventory.js';
import type { CredentialEntry, HostEntry } from '../config/file-formats.js';
import { ENV } from '../defaults.js';
import { shellQuote, SshgateError } from '../errors.js';
import { decodedOnce } from './signing-key.js';
import { loadedSsh2, ssh2CertificatesUnavailable } from './ssh2.js';
import { certificateFileFor, certificateRefusal, describeCertificate, type CertificateFile } from './user-certificate.js';

export interface AuthConfig {
  username: string;
  privateKey?: Buffer;
  /** The key parsed (and decrypted) once, so that no connection parses it again. */
  parsedKey?: ParsedKey;
  passphrase?: string;
  /** The key's user certificate, offered before the key alone. */
  certificate?: CertificateFile;
  agent?: string;
  password?: string;
  /** Where the login was configured, for a person reading a refusal; never a secret. */
  origin?: AuthOrigin;
}

export interface AuthOrigin {
  /** The file that set the user: the host's `user:`, or the credential's `username:`. */
  userFrom: 'servers.yml' | 'credentials.yml';
  credential: string;
  /** What the credential offers, as a person names it: `the key deploy/id_ed25519`. */
  offered: string[];
}

export interface SecretSources {
  keysDir: string;
  secretsDir: string;
  env: Readonly<Record<string, string | undefined>>;
}

export function secretEnvName(name: string): string {
  return `${ENV.secretPrefix}${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** Where the secret `name` is read from: its variable when set, else its file. */
export function secretSource(name: string, sources: SecretSources): string {
  // Empty counts as not set, as for every SSHGATE_ variable (a compose file's `${UNSET}` is "").
  const fromEnv = sources.env[secretEnvName(name)];
  return fromEnv !== undefined && fromEnv !== '' ? secretEnvName(name) : join(sources.secretsDir, name);
}

export function readSecret(name: string, sources: SecretSources): string {
  const source = secretSource(name, sources);
  if (source === secretEnvName(name)) return sources.env[source] as string;
  try {
    return readFileSync(source, 'utf8').replace(/\r?\n$/, '');
  } catch {
    throw new SshgateError('invalid_config', `secret "${name}" is not set`, `set ${secretEnvName(name)} or create the file ${source}`);
  }
}

/** What to check when a host refuses every method: the files the user and the credential came from. */
export function refusalHint(alias: string, auth: AuthConfig): string {
  const o = auth.origin;
  if (!o) return 'check the user and the credential named for this host';
  const certificate = certificateHint(auth);
  if (certificate) return certificate;
  const accept = `the account must exist on the host and accept ${o.offered.join(' or ')}`;
  return o.userFrom === 'servers.yml'
    ? `check user "${auth.username}" of host "${alias}" in servers.yml, and credential "${o.credential}" in credentials.yml: ${accept}`
    : `check credential "${o.credential}" in credentials.yml, whose username "${auth.username}" is the login: ${accept}`;
}

/** What the certificate itself says against a login, when it says anything: the likeliest reason for a refusal. */
function certificateHint(auth: AuthConfig): string | undefined {
  let current;
  try {
    current = auth.certificate?.current();
  } catch {
    return undefined;
  }
  if (!current) return undefined;
  const why = certificateRefusal(current.cert, auth.username);
  if (!why) return undefined;
  return `the certificate ${auth.certificate?.path} (${describeCertificate(current.cert)}) cannot log in: ${why}; have the CA sign a new one (ssh-keygen -s CA -I ID -n ${auth.username} -V +1d KEY.pub)`;
}

/** What to do when the ssh-agent of SSH_AUTH_SOCK cannot be used. */
export const AGENT_HINT = 'start ssh-agent and ssh-add the key, then give sshgate the SSH_AUTH_SOCK that ssh-agent prints';

/** Why SSH_AUTH_SOCK cannot lead to an agent, seen without connecting; undefined when it may. */
export function agentSocketProblem(sock: string): string | undefined {
  let stat: Stats;
  try {
    stat = statSync(sock);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `nothing is at SSH_AUTH_SOCK (${sock})` : `SSH_AUTH_SOCK (${sock}) cannot be reached (${code ?? 'error'})`;
  }
  return stat.isSocket() ? undefined : `SSH_AUTH_SOCK (${sock}) is not a socket`;
}

/**
 * Whether something accepts connections at the agent's socket: undefined if so, else why not
 * (a socket left behind by an agent that has ended: ECONNREFUSED).
 */
export function agentSilence(sock: string, timeoutMs = 2000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect(sock);
    const done = (why: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(why);
    };
    const timer = setTimeout(() => done(`no answer within ${timeoutMs / 1000} s`), timeoutMs);
    socket.once('connect', () => done(undefined));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

/** The login for a host: reads its key (parsed with ssh2: after loadSsh2() resolved) and secrets. */
export function resolveAuth(host: HostEntry, cred: CredentialEntry, sources: SecretSources): AuthConfig {
  const username = host.user ?? cred.username;
  if (!username) {
    throw new SshgateError(
      'invalid_config',
      `host "${host.alias}" has no user`,
      `set user in servers.yml or username in credential "${cred.name}"`,
    );
  }
  const offered = [
    cred.key_path && `the key ${cred.key_path}`,
    cred.agent && 'a key of the ssh-agent',
    cred.password_secret && `the password of secret "${cred.password_secret}"`,
  ].filter((o): o is string => typeof o === 'string');
  const auth: AuthConfig = {
    username,
    origin: { userFrom: host.user ? 'servers.yml' : 'credentials.yml', credential: cred.name, offered },
  };
  if (cred.key_path) {
    const problem = keyPathProblem(cred.key_path, sources.keysDir);
    if (problem) throw new SshgateError('invalid_config', problem, 'move the key under the keys dir');
    const file = join(sources.keysDir, cred.key_path);
    const { data, stat } = readKeyFile(file, cred.name, cred.key_path);
    // Before the mode: a .pub file is 644 by design, and the fix is the path, not a chmod.
    const { parseKey } = loadedSsh2().utils;
    const plain = parseKey(data);
    const first: ParsedKey | undefined =
      plain instanceof Error ? undefined : Array.isArray(plain) ? (plain[0] as ParsedKey | undefined) : plain;
    if (first && !first.isPrivateKey()) {
      const priv = privateBeside(cred.key_path);
      throw new SshgateError(
        'invalid_config',
        `key_path of credential "${cred.name}" names a public key (${file}); sshgate logs in with the private key`,
        priv !== undefined
          ? `set key_path: ${priv}, the private key beside it`
          : 'set key_path to the private key file (ssh-keygen wrote it beside the .pub file, without the .pub)',
      );
    }
    // OpenSSH's rule (sshkey_perm_ok): a key its user owns must be open to no one else, or it is
    // refused. A key another user owns is not judged by its mode (a Docker secret is root's, 0444).
    if ((stat.mode & 0o077) !== 0 && stat.uid === process.getuid?.()) {
      throw new SshgateError(
        'invalid_config',
        `the key of credential "${cred.name}" (${file}) has mode 0${(stat.mode & 0o777).toString(8)}, open to others than its owner; OpenSSH refuses such a key, and so does sshgate`,
        `chmod 600 ${shellQuote(file)}`,
      );
    }
    const passphrase = cred.key_passphrase_secret ? readSecret(cred.key_passphrase_secret, sources) : undefined;
    const parsed = passphrase === undefined ? plain : parseKey(data, passphrase);
    if (parsed instanceof Error) {
      if (!/encrypted|passphrase|decrypt/i.test(parsed.message)) {
        throw new SshgateError(
          'invalid_config',
          `the key of credential "${cred.name}" is not a private key sshgate can read (${file})`,
          'use an OpenSSH or PEM private key',
        );
      }
      const secret = cred.key_passphrase_secret;
      if (passphrase === undefined || !secret) {
        throw new SshgateError(
          'invalid_config',
          `the key of credential "${cred.name}" cannot be decrypted: it needs a passphrase`,
          `set key_passphrase_secret and its secret for credential "${cred.name}"`,
        );
      }
      // The secret is named already: what to fix is its value, where it was read from.
      throw new SshgateError(
        'invalid_config',
        `the key of credential "${cred.name}" cannot be decrypted: wrong passphrase`,
        `the passphrase of secret "${secret}", read from ${secretSource(secret, sources)}, does not open ${file}: set it to the key's passphrase (ssh-keygen -y -f ${shellQuote(file)} tests one)`,
      );
    }
    auth.privateKey = data;
    auth.parsedKey = decodedOnce(Array.isArray(parsed) ? (parsed[0] as ParsedKey) : parsed);
    if (passphrase !== undefined) auth.passphrase = passphrase;
    const certificate = certificateFileFor(cred, sources.keysDir, auth.parsedKey);
    if (certificate) {
      const unavailable = ssh2CertificatesUnavailable();
      if (unavailable) {
        throw new SshgateError(
          'invalid_config',
          `credential "${cred.name}" has a certificate (${certificate.path}), but this sshgate cannot log in with certificates: ${unavailable}`,
          'install the ssh2 version in package-lock.json (npm ci), or move the certificate away to log in with the key alone',
        );
      }
      auth.certificate = certificate;
      offered.unshift(`the certificate ${certificate.path}`);
    }
  }
  if (cred.agent) {
    const sock = sources.env.SSH_AUTH_SOCK;
    if (!sock)
      throw new SshgateError(
        'invalid_config',
        `credential "${cred.name}" uses the agent, but SSH_AUTH_SOCK is not set`,
        'start ssh-agent and export SSH_AUTH_SOCK for sshgate',
      );
    const dead = agentSocketProblem(sock);
    if (dead) throw new SshgateError('invalid_config', `credential "${cred.name}" uses the agent, but ${dead}`, AGENT_HINT);
    auth.agent = sock;
  }
  if (cred.password_secret) auth.password = readSecret(cred.password_secret, sources);
  return auth;
}

/** The key file's bytes and the mode it had when read (one open: no swap between the two). */
function readKeyFile(file: string, credential: string, keyPath: string): { data: Buffer; stat: Stats } {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    return { stat: fstatSync(fd), data: readFileSync(fd) };
  } catch {
    const priv = privateBeside(keyPath);
    const hint =
      priv !== undefined
        ? `key_path names a .pub file: set it to the private key, ${priv}`
        : `put the private key at ${file}, readable by sshgate`;
    throw new SshgateError('invalid_config', `the key of credential "${credential}" cannot be read: ${file}`, hint);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** For a key_path ending in .pub, the private key's path by ssh-keygen's naming (`id_ed25519.pub` → `id_ed25519`). */
function privateBeside(keyPath: string): string | undefined {
  return /.\.pub$/i.test(keyPath) ? keyPath.slice(0, -4) : undefined;
}
