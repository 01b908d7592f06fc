/**
 * From an inventory host to what the pool connects to: its address, its resolved credentials, its
 * jump chain (each hop a target of its own), the known_hosts checker and the network policy.
 */
import type { Inventory } from '../config/load-inventory.js';
import type { CredentialEntry, HostEntry } from '../config/file-formats.js';
import { SshgateError } from '../errors.js';
import type { NetworkCheck } from '../policy/network.js';
import { readSecret, resolveAuth, secretSource, type AuthConfig, type SecretSources } from '../ssh/auth.js';
import type { BecomeConfig } from '../ssh/become.js';
import type { HostKeyChecker } from '../ssh/known-hosts-file.js';
import type { HostTarget } from '../ssh/pool.js';

export interface TargetContext {
  inventory: Inventory;
  network: NetworkCheck;
  hostKeys: HostKeyChecker;
  sources: SecretSources;
  /** Resolved logins by credential and user: a key file is read and parsed once, not per host. */
  auths?: Map<string, AuthConfig>;
}

/** The context for a loaded configuration; `auths` is the cache its targets share. */
export function targetContextFor(
  loaded: { inventory: Inventory; engine: { network: NetworkCheck } },
  hostKeys: HostKeyChecker,
  dirs: { keysDir: string; secretsDir: string },
  env: SecretSources['env'],
  auths: Map<string, AuthConfig>,
): TargetContext {
  return {
    inventory: loaded.inventory,
    network: loaded.engine.network,
    hostKeys,
    sources: { keysDir: dirs.keysDir, secretsDir: dirs.secretsDir, env },
    auths,
  };
}

/**
 * Builds every host's target now, keys read and secrets looked up; what failed, each problem once
 * with every host it stops (a credential's unreadable key is one problem, however many hosts use it).
 */
export function targetProblems(
  hosts: readonly HostEntry[],
  build: (host: HostEntry) => HostTarget,
): { aliases: string[]; error: SshgateError }[] {
  const problems = new Map<string, { aliases: string[]; error: SshgateError }>();
  for (const host of hosts) {
    try {
      build(host);
    } catch (err) {
      const error =
        err instanceof SshgateError ? err : new SshgateError('internal', 'the host could not be prepared', 'see the server log');
      const key = `${error.code}\0${error.message}\0${error.hint ?? ''}`;
      const problem = problems.get(key) ?? { aliases: [], error };
      problem.aliases.push(host.alias);
      problems.set(key, problem);
    }
  }
  return [...problems.values()];
}

export function targetFor(host: HostEntry, ctx: TargetContext, seen: string[] = []): HostTarget {
  if (seen.includes(host.alias)) {
    throw new SshgateError(
      'invalid_config',
      `the jump chain of host "${seen[0]}" loops at "${host.alias}"`,
      'fix the jump: entries in servers.yml',
    );
  }
  const cred = ctx.inventory.credentialByName.get(host.credentials);
  if (!cred)
    throw new SshgateError(
      'invalid_config',
      `host "${host.alias}" names the unknown credential "${host.credentials}"`,
      'add it to credentials.yml',
    );
  const target: HostTarget = {
    alias: host.alias,
    host: host.host,
    port: host.port,
    shell: host.shell,
    auth: authFor(host, cred, ctx),
    become: becomeFor(cred, ctx.sources),
    hostKeys: ctx.hostKeys,
    checkAddress: addressCheck(host, ctx.network),
  };
  if (!host.jump) return target;
  const jump = ctx.inventory.byAlias.get(host.jump);
  if (!jump)
    throw new SshgateError('invalid_config', `host "${host.alias}" names the unknown jump host "${host.jump}"`, 'add it to servers.yml');
  return { ...target, jump: targetFor(jump, ctx, [...seen, host.alias]) };
}

/** The network policy's check of the address a host resolves to: an error refuses the connection. */
export function addressCheck(host: HostEntry, network: NetworkCheck): (address: string) => SshgateError | undefined {
  return (address) => {
    const verdict = network.check(address);
    return verdict.allowed
      ? undefined
      : new SshgateError(
          'policy_denied',
          `host "${host.alias}" resolves to ${address}, which the network policy refuses: ${verdict.reason}`,
          'change the network: section of the policy, or the address of the host',
        );
  };
}

function authFor(host: HostEntry, cred: CredentialEntry, ctx: TargetContext): AuthConfig {
  const key = `${cred.name}\0${host.user ?? ''}`;
  let auth = ctx.auths?.get(key);
  if (!auth) {
    auth = resolveAuth(host, cred, ctx.sources);
    ctx.auths?.set(key, auth);
  }
  return auth;
}

/** How the credential elevates: its method, and the become password read as every secret is. */
function becomeFor(cred: CredentialEntry, sources: SecretSources): BecomeConfig {
  const method = cred.become_method ?? 'sudo';
  const secret = cred.become_password_secret;
  if (secret === undefined) return { method };
  const password = readSecret(secret, sources);
  // sudo reads one line: a newline would end the password early and feed the rest to it as input.
  if (/[\r\n\0]/.test(password)) {
    throw new SshgateError(
      'invalid_config',
      `the become password of credential "${cred.name}" (secret "${secret}", read from ${secretSource(secret, sources)}) contains a line break or NUL`,
      'sudo reads the password as one line: store it without line breaks',
    );
  }
  return { method, password };
}
