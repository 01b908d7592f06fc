/**
 * What `serve` needs from outside its arguments, read once at start: the bearer token (from the
 * environment or a file), how HTTP callers authenticate (a tokens file, an OAuth issuer), and the
 * state dir, keyed by where the config and the policy really are.
 */
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AuthSettings } from '../auth/settings.js';
import { DEFAULTS, ENV } from '../defaults.js';
import type { Paths } from './context.js';
import { settingOf, UsageError, type Env } from './usage.js';

/**
 * $XDG_STATE_HOME/sshgate/<deployment>, else the same under ~/.local/state; none when there is no
 * home either. The deployment is a hash of where the config and the policy really are: servers of
 * one configuration share their journal, and no other configuration's server sees it.
 */
export function defaultStateDir(env: Env, paths: Paths): string | undefined {
  const base = env.XDG_STATE_HOME ? env.XDG_STATE_HOME : env.HOME ? join(env.HOME, '.local', 'state') : undefined;
  return base === undefined ? undefined : join(base, DEFAULTS.stateDirName, deploymentKey(paths));
}

function deploymentKey(paths: Pick<Paths, 'configDir' | 'policyPath'>): string {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  return createHash('sha256')
    .update(`${real(paths.configDir)}\0${real(paths.policyPath)}`)
    .digest('hex')
    .slice(0, 16);
}

/** The most a server may be told to keep: each kept task holds its output (max_output_bytes). */
const MAX_TASKS_CEILING = 1_000_000;

/** SSHGATE_MAX_TASKS: how many tasks the registry keeps (finished ones included); undefined: the default. */
export function maxTasksOf(env: Env): number | undefined {
  const v = settingOf(env, ENV.maxTasks);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 10 || Number(v) > MAX_TASKS_CEILING)
    throw new UsageError(`${ENV.maxTasks} must be a whole number from 10 to ${MAX_TASKS_CEILING}, not "${v}"`);
  return Number(v);
}

/** Whether `v` is a whole number from `min` to `max`. */
function wholeIn(v: string, min: number, max: number): boolean {
  return /^\d+$/.test(v) && Number(v) >= min && Number(v) <= max;
}

/** Minimum token length: a token is a password for running commands on every host. */
const MIN_TOKEN = 16;

/**
 * The HTTP server's address and its one bearer token (--token-file, or SSHGATE_TOKEN). The token
 * may be left out when callers have another way in (`otherCallers`: a tokens file or an OAuth
 * issuer); with none at all, nothing could ever call, so serve refuses to start.
 */
export function httpOptions(address: string, tokenFile: string | undefined, env: Env, otherCallers = false) {
  const setting = (name: string) => settingOf(env, name);
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new UsageError(`--http needs HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080), not "${address}"`);
  const host = (m[1] ?? m[2]) as string;
  let token = setting(ENV.token);
  if (tokenFile !== undefined) {
    try {
      token = readFileSync(tokenFile, 'utf8').trim();
    } catch {
      throw new UsageError(`cannot read the token file ${tokenFile}`);
    }
  }
  // Also on loopback: any local process or user could otherwise run commands through sshgate.
  if (!token && !otherCallers)
    throw new UsageError(
      `serve --http needs a way for callers in: a bearer token (${ENV.token} or --token-file), --tokens-file, or --oauth-issuer`,
    );
  if (token && (token.length < MIN_TOKEN || /\s/.test(token)))
    throw new UsageError(`the token must be at least ${MIN_TOKEN} characters, without spaces (try: openssl rand -hex 32)`);
  const list = (v: string | undefined) =>
    v
      ? v
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean)
      : [];
  const idle = setting(ENV.sessionIdle);
  if (idle !== undefined && !/^\d+(\.\d+)?$/.test(idle))
    throw new UsageError(`${ENV.sessionIdle} must be a number of seconds, not "${idle}"`);
  const total = setting(ENV.maxConnections);
  const { total: byDefault, most: ceiling } = DEFAULTS.httpConnections;
  if (total !== undefined && !wholeIn(total, 1, ceiling))
    throw new UsageError(`${ENV.maxConnections} must be a whole number from 1 to ${ceiling}, not "${total}"`);
  const most = total === undefined ? byDefault : Number(total);
  const perClient = setting(ENV.maxConnectionsPerClient);
  if (perClient !== undefined && !wholeIn(perClient, 1, most))
    throw new UsageError(
      `${ENV.maxConnectionsPerClient} must be a whole number from 1 to ${most} (the connections in all, ${ENV.maxConnections}), not "${perClient}"`,
    );
  return {
    host,
    port,
    ...(token ? { token } : {}),
    ...(perClient !== undefined ? { maxConnectionsPerClient: Number(perClient) } : {}),
    ...(total !== undefined ? { maxConnections: Number(total) } : {}),
    allowedHosts: list(setting(ENV.allowedHosts)),
    allowedOrigins: list(setting(ENV.allowedOrigins)),
    ...(idle !== undefined ? { sessionIdleMs: Number(idle) * 1000 } : {}),
  };
}

/** serve's flags for HTTP callers, in node:util parseArgs' form: the dispatcher spreads them into its options. */
export const AUTH_FLAGS = {
  'tokens-file': { type: 'string' },
  'oauth-issuer': { type: 'string' },
  'oauth-resource': { type: 'string' },
} as const;

export interface AuthFlags {
  'tokens-file'?: string | undefined;
  'oauth-issuer'?: string | undefined;
  'oauth-resource'?: string | undefined;
}

/** Each setting as an operator gives it: its flag, if it has one, and its variable. */
const AUTH_NAMES: Record<string, string> = {
  tokensFile: `--tokens-file (${ENV.tokensFile})`,
  'oauth.issuer': `--oauth-issuer (${ENV.oauthIssuer})`,
  'oauth.resource': `--oauth-resource (${ENV.oauthResource})`,
  'oauth.jwksUrl': ENV.oauthJwksUrl,
  'oauth.rolesClaim': ENV.oauthRolesClaim,
  'oauth.nameClaim': ENV.oauthNameClaim,
  'oauth.algorithms': ENV.oauthAlgorithms,
};

/**
 * How HTTP callers prove who they are, from serve's flags and the environment (a flag wins over
 * its variable): a tokens file, an OAuth issuer, or both; undefined when neither is set. A setting
 * that cannot work is a UsageError naming it.
 */
export function authSettings(flags: AuthFlags, env: Env): AuthSettings | undefined {
  const setting = (name: string) => settingOf(env, name);
  const tokensFile = flags['tokens-file'] ?? setting(ENV.tokensFile);
  const issuer = flags['oauth-issuer'] ?? setting(ENV.oauthIssuer);
  const resource = flags['oauth-resource'] ?? setting(ENV.oauthResource);
  const envOnly = {
    jwksUrl: setting(ENV.oauthJwksUrl),
    rolesClaim: setting(ENV.oauthRolesClaim),
    nameClaim: setting(ENV.oauthNameClaim),
    algorithms: setting(ENV.oauthAlgorithms)
      ?.split(',')
      .map((a) => a.trim())
      .filter(Boolean),
  };
  if (issuer === undefined && resource === undefined) {
    const stray = Object.entries(envOnly).find(([, v]) => v !== undefined);
    if (stray) throw new UsageError(`${AUTH_NAMES[`oauth.${stray[0]}`] ?? stray[0]} is set, but no OAuth issuer: set --oauth-issuer too`);
    if (tokensFile === undefined) return undefined;
  } else if (issuer === undefined || resource === undefined) {
    throw new UsageError(
      issuer === undefined
        ? `--oauth-resource needs --oauth-issuer (${ENV.oauthIssuer}): the authorization server whose tokens are taken`
        : `--oauth-issuer needs --oauth-resource (${ENV.oauthResource}): this server's URL as clients reach it, such as https://sshgate.example.com/mcp`,
    );
  }
  const defined = <T extends object>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const parsed = AuthSettings.safeParse(
    defined({ tokensFile, oauth: issuer === undefined ? undefined : defined({ issuer, resource, ...envOnly }) }),
  );
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue?.path.filter((p) => typeof p === 'string').join('.') ?? '';
    throw new UsageError(`${AUTH_NAMES[key] ?? 'the HTTP authentication settings'}: ${issue?.message ?? 'not usable'}`);
  }
  return parsed.data;
}
