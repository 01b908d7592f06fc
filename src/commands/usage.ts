/** What the command line and the environment say, and the one error a wrong one gives. */

export type Env = Readonly<Record<string, string | undefined>>;

/** A command line or a setting that cannot work: the message, then the usage, exit status 2. */
export class UsageError extends Error {}

/** `SSHGATE_CONFIG_DIR=` in a unit or compose file means "not set", as in most tools, not "here". */
export function settingOf(env: Env, name: string): string | undefined {
  return env[name] === '' ? undefined : env[name];
}
