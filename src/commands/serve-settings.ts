/**
 * What `serve` needs from outside its arguments, read once at start: the bearer token (from the
 * environment or a file) and the state dir, keyed by where the config and the policy really are.
 */
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
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

/** Minimum token length: a token is a password for running commands on every host. */
const MIN_TOKEN = 16;

export function httpOptions(address: string, tokenFile: string | undefined, env: Env) {
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
  if (!token) throw new UsageError(`serve --http needs a bearer token: set ${ENV.token} or --token-file`);
  if (token.length < MIN_TOKEN || /\s/.test(token))
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
  return {
    host,
    port,
    token,
    allowedHosts: list(setting(ENV.allowedHosts)),
    allowedOrigins: list(setting(ENV.allowedOrigins)),
    ...(idle !== undefined ? { sessionIdleMs: Number(idle) * 1000 } : {}),
  };
}
