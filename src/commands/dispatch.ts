/**
 * Turns a command line into one command call. Reads nothing but its arguments and the environment
 * (serve's token file and state dir: serve-settings.ts). Each command's module is loaded when it
 * runs: a stdio server does not carry the HTTP transport, the MCP client of the demo or the
 * policy-diff machinery in its memory.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { becomeUserProblem, callerNameProblem, roleNameProblem } from '../config/file-formats.js';
import { LOG_LEVELS, type LogLevel } from '../logger.js';
import { DEFAULTS, ENV } from '../defaults.js';
import type { FileAccess } from '../policy/decision.js';
import type { Principal } from '../principal.js';
import { testsDirOf, type Io, type Paths } from './context.js';
import { AUTH_FLAGS, authSettings, defaultStateDir, httpOptions, maxTasksOf } from './serve-settings.js';
import { settingOf, UsageError, type Env } from './usage.js';

export const USAGE = `usage: sshgate <command> [options]

commands:
  serve                         serve MCP over stdio (the agent starts this)
  check                         validate the config and the policy, print a summary
  check --connect [ALIAS|@TAG]  then log in to each host (every host without a target) and report what tasks will meet
  keyscan [ALIAS|@TAG]          fetch host keys (through jump hosts), show them, add them to known_hosts once confirmed
  plan ALIAS|@TAG -- COMMAND    print what the policy decides for COMMAND, and why
  plan ALIAS|@TAG --read PATH   the same for reading PATH (or listing it); --write PATH for writing it
  policy test [PATH]            run the policy test cases (default: <policy>/tests)
  policy diff OLD NEW           list the decisions that change from policy OLD to NEW
  audit verify PATH             check the hash chain of an audit file (--audit-log)
  token new --id ID --principal P  a bearer token for serve --http's tokens file: token on stdout, entry on stderr
  run ALIAS|@TAG -- COMMAND     run COMMAND as an agent would: policy first, output streamed
  approvals list                the approval requests waiting for an answer (ask rules), on every server of the state dir
  approve ID                    approve one: its command runs, once, on its hosts
  deny ID --reason TEXT         refuse one: its command never runs
  demo                          a scripted MCP session against a throwaway local SSH host
  import ssh-config [FILE]      an inventory for review from an ssh_config (default ~/.ssh/config)
  import ansible INVENTORY      the same from an Ansible inventory (INI or YAML, with group_vars/ and host_vars/)

options:
  --config DIR     inventory and credentials directory  (env ${ENV.configDir}, default ${DEFAULTS.configDir})
  --policy PATH    policy file or directory              (env ${ENV.policyPath}, default ${DEFAULTS.policyPath})
  --log-level L    serve, run: fatal|error|warn|info|debug|trace|silent (run: default silent)   (env ${ENV.logLevel}, default ${DEFAULTS.logLevel})
  --audit-log PATH serve: append audit records, hash-chained, to this JSONL file   (env ${ENV.auditLog})
  --state-dir DIR  serve, approvals, approve, deny: this deployment's task journal and control sockets   (env ${ENV.stateDir}, default $XDG_STATE_HOME/sshgate/<hash of config and policy paths>, or under ~/.local/state)
  --transfer-root DIR serve: the local directory ssh_put_file reads and ssh_get_file writes (owned by sshgate's user, mode 0700)   (env ${ENV.transferRoot}; none: the two tools refuse)
  --http HOST:PORT serve: MCP over Streamable HTTP at /mcp instead of stdio (needs a token)
  --token-file F   serve --http: the bearer token, read from file F   (or env ${ENV.token})
  --json           plan: print the decision as JSON; approvals list: the requests as JSON; check --connect: the hosts' reports as JSON
  --connect        check: also log in to each host: reachable, host key, login, login shell, interpreter, sudo, sftp
  --strict         check: fail (exit 1) on any policy lint warning, for CI
  --yes            keyscan: add new hosts' keys without asking (every fingerprint is still printed)
  --generate N     policy diff: commands generated around the changed patterns, in all (default ${DEFAULTS.diffGenerated}; 0: none)
  --seed S         policy diff: the seed of those commands (default ${DEFAULTS.diffSeed}; the same seed, the same commands)
  --all            approvals list: the answered requests the servers still keep too
  --reason TEXT    approve, deny: why (recorded in the audit; deny needs one)
  --as NAME        plan: decide for the principal NAME (rules with callers:); without it, for no principal
                   approve, deny: the approver's name (default the OS user; four_eyes compares it to the asker)
                   serve: who the callers are (stdio: default the OS user; --http: whoever has --token-file's token, default http)
  --role ROLE      plan --as, serve --as, token new: a role of that principal (repeatable)
  --become USER    plan: decide for a call that elevates to USER (rules with become:)
  --read PATH      plan: decide reading the file PATH, or listing the directory PATH (files: rules), instead of a command
  --write PATH     plan: decide writing the file PATH (files: rules), instead of a command
  --expires DATE   token new: when the token stops working (2027-06-30, or a date and time with its zone)
  --out DIR        import: write DIR/servers.yml and DIR/credentials.yml (default: print them on stdout)
  --force          import: overwrite those files when they exist
  --keys-dir DIR   import: the keys dir every key_path is written relative to   (env ${ENV.keysDir}, default ~/.ssh)
  --tag TAG        import: give every imported host TAG (repeatable)
  --tag-from RE    import: tags from each host's name: the regular expression's capture groups, or its match (repeatable)
  -h, --help       print this help
  -v, --version    print the version

exit status: 0 ok/allowed, 1 problems found/denied/changed, 2 bad usage or configuration
`;

export type { Env };

export async function runCli(argv: readonly string[], env: Env, io: Io, version = '0.0.0'): Promise<number> {
  const setting = (name: string) => settingOf(env, name);
  const dash = argv.indexOf('--');
  const before = dash === -1 ? [...argv] : argv.slice(0, dash);
  const after = dash === -1 ? [] : argv.slice(dash + 1);
  let parsed;
  try {
    parsed = parseArgs({
      args: before,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string' },
        policy: { type: 'string' },
        json: { type: 'boolean', default: false },
        connect: { type: 'boolean', default: false },
        yes: { type: 'boolean', default: false },
        strict: { type: 'boolean', default: false },
        generate: { type: 'string' },
        seed: { type: 'string' },
        all: { type: 'boolean', default: false },
        reason: { type: 'string' },
        as: { type: 'string' },
        role: { type: 'string', multiple: true },
        become: { type: 'string' },
        read: { type: 'string' },
        write: { type: 'string' },
        'log-level': { type: 'string' },
        'state-dir': { type: 'string' },
        'audit-log': { type: 'string' },
        'transfer-root': { type: 'string' },
        http: { type: 'string' },
        'token-file': { type: 'string' },
        ...AUTH_FLAGS,
        id: { type: 'string' },
        principal: { type: 'string' },
        expires: { type: 'string' },
        out: { type: 'string' },
        force: { type: 'boolean', default: false },
        'keys-dir': { type: 'string' },
        tag: { type: 'string', multiple: true },
        'tag-from': { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', short: 'v', default: false },
      },
    });
  } catch (err) {
    io.err(`sshgate: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    io.out(`${version}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    if (command === undefined && !values.help) io.err(USAGE);
    else io.out(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  const configDir = values.config ?? setting(ENV.configDir) ?? DEFAULTS.configDir;
  const paths: Paths = {
    configDir,
    policyPath: values.policy ?? setting(ENV.policyPath) ?? DEFAULTS.policyPath,
    keysDir: setting(ENV.keysDir) ?? join(configDir, DEFAULTS.keysDirName),
    secretsDir: setting(ENV.secretsDir) ?? DEFAULTS.secretsDir,
  };
  try {
    if (values.json && command !== 'plan' && command !== 'approvals' && !(command === 'check' && values.connect))
      throw new UsageError('--json is an option of plan, approvals list and check --connect only');
    if (values.connect && command !== 'check') throw new UsageError('--connect is an option of check only');
    if (values.yes && command !== 'keyscan') throw new UsageError('--yes is an option of keyscan only');
    if (values.all && command !== 'approvals') throw new UsageError('--all is an option of approvals list only');
    if (values.strict && command !== 'check') throw new UsageError('--strict is an option of check only');
    if ((values.generate !== undefined || values.seed !== undefined) && !(command === 'policy' && rest[0] === 'diff'))
      throw new UsageError('--generate and --seed are options of policy diff only');
    if (values.reason !== undefined && command !== 'approve' && command !== 'deny')
      throw new UsageError('--reason is an option of approve and deny only');
    const asCommands = ['plan', 'serve', 'approve', 'deny'];
    if (
      (values.as !== undefined && !asCommands.includes(command)) ||
      (values.role !== undefined && ![...asCommands, 'token'].includes(command))
    )
      throw new UsageError(
        '--as and --role are options of plan, serve, approve and deny only (policy test cases say as: and roles:; token new takes --role)',
      );
    if (values.become !== undefined && command !== 'plan')
      throw new UsageError('--become is an option of plan only (policy test cases say become:; the run tools take become)');
    if ((values.read !== undefined || values.write !== undefined) && command !== 'plan')
      throw new UsageError('--read and --write are options of plan only (policy test cases say read: and write:)');
    const tokenFlag = (['id', 'principal', 'expires'] as const).find((f) => values[f] !== undefined);
    if (tokenFlag !== undefined && command !== 'token') throw new UsageError(`--${tokenFlag} is an option of token new only`);
    const importFlag =
      (['out', 'keys-dir', 'tag', 'tag-from'] as const).find((f) => values[f] !== undefined) ?? (values.force ? 'force' : undefined);
    if (importFlag !== undefined && command !== 'import') throw new UsageError(`--${importFlag} is an option of import only`);
    switch (command) {
      case 'serve': {
        expectArgs(rest, 0, 'serve takes no arguments');
        const level = logLevelOf(values['log-level'] ?? setting(ENV.logLevel) ?? DEFAULTS.logLevel);
        const stateDir = stateDirOf(values, env, paths);
        const auditLog = values['audit-log'] ?? setting(ENV.auditLog);
        const transferRoot = values['transfer-root'] ?? setting(ENV.transferRoot);
        const maxTasks = maxTasksOf(env);
        const auth = values.http === undefined ? undefined : authSettings(values, env);
        const http = values.http === undefined ? undefined : httpOptions(values.http, values['token-file'], env, auth !== undefined);
        const principal = principalOf(values.as, values.role);
        const { serveCommand } = await import('./serve.js');
        return await serveCommand(
          paths,
          {
            logLevel: level,
            version,
            env,
            ...(stateDir ? { stateDir } : {}),
            ...(auditLog ? { auditLog } : {}),
            ...(transferRoot ? { transferRoot } : {}),
            ...(maxTasks !== undefined ? { maxTasks } : {}),
            ...(http ? { http: { ...http, ...(auth ? { auth } : {}) } } : {}),
            ...(principal ? { principal } : {}),
          },
          io,
        );
      }
      case 'run': {
        expectTarget(rest, dash, 'run');
        const text = after.join(' ');
        if (dash === -1 || text.trim() === '') throw new UsageError('run needs a command after "--": sshgate run web1 -- uptime');
        // Its errors are printed for a person, one line and a hint: the JSON log only when asked.
        const level = logLevelOf(values['log-level'] ?? setting(ENV.logLevel) ?? 'silent');
        const { runCommand } = await import('./run.js');
        return await runCommand(paths, rest[0] as string, text, io, env, level);
      }
      case 'approvals': {
        const [sub, ...args] = rest;
        if (sub !== 'list') throw new UsageError(`unknown approvals command "${sub ?? ''}"; expected list`);
        expectArgs(args, 0, 'approvals list takes no arguments');
        const { approvalsListCommand } = await import('./approvals.js');
        return await approvalsListCommand({ stateDir: stateDirOf(values, env, paths), json: values.json, all: values.all }, io);
      }
      case 'approve':
      case 'deny': {
        expectArgs(
          rest,
          1,
          `${command} needs one approval id: sshgate ${command} apr-0123456789abcdef (sshgate approvals list shows them)`,
        );
        if (command === 'deny' && (values.reason === undefined || values.reason.trim() === ''))
          throw new UsageError('deny needs --reason TEXT: the agent and the audit are told why');
        if (values.role !== undefined) throw new UsageError(`--role is not an option of ${command}`);
        const approver = values.as;
        const problem = approver !== undefined ? callerNameProblem(approver) : undefined;
        if (problem) throw new UsageError(`--as: ${problem}`);
        const { answerCommand } = await import('./approvals.js');
        return await answerCommand(
          rest[0] as string,
          command === 'approve',
          {
            stateDir: stateDirOf(values, env, paths),
            ...(values.reason !== undefined ? { reason: values.reason } : {}),
            ...(approver !== undefined ? { as: approver } : {}),
          },
          io,
        );
      }
      case 'demo': {
        expectArgs(rest, 0, 'demo takes no arguments');
        const { demoCommand } = await import('./demo.js');
        const demoHost = setting('SSHGATE_DEMO_HOST') ?? 'auto';
        if (demoHost !== 'auto' && demoHost !== 'embedded')
          throw new UsageError(`SSHGATE_DEMO_HOST must be auto or embedded, not "${demoHost}"`);
        return await demoCommand(io, { host: demoHost });
      }
      case 'audit': {
        const [sub, ...args] = rest;
        if (sub !== 'verify') throw new UsageError(`unknown audit command "${sub ?? ''}"; expected verify`);
        expectArgs(args, 1, 'audit verify needs the audit file: sshgate audit verify PATH');
        const { auditVerifyCommand } = await import('./audit-verify.js');
        return auditVerifyCommand(args[0] as string, io);
      }
      case 'token': {
        const [sub, ...args] = rest;
        if (sub !== 'new') throw new UsageError(`unknown token command "${sub ?? ''}"; expected new`);
        expectArgs(args, 0, 'token new takes no arguments, only options: sshgate token new --id alice-laptop --principal alice --role ops');
        const { tokenNewCommand } = await import('./token.js');
        return tokenNewCommand({ id: values.id, principal: values.principal, roles: values.role ?? [], expires: values.expires }, io);
      }
      case 'import': {
        const [sub, ...args] = rest;
        if (sub !== 'ssh-config' && sub !== 'ansible')
          throw new UsageError(`unknown import source "${sub ?? ''}"; expected ssh-config or ansible`);
        if (sub === 'ssh-config' && args.length > 1)
          throw new UsageError('import ssh-config takes at most one file (default ~/.ssh/config)');
        if (sub === 'ansible') expectArgs(args, 1, 'import ansible needs one inventory file: sshgate import ansible inventory.ini');
        const { importCommand } = await import('./import.js');
        return importCommand(
          {
            source: sub,
            path: args[0],
            out: values.out,
            force: values.force,
            keysDir: values['keys-dir'],
            tags: values.tag ?? [],
            tagFrom: values['tag-from'] ?? [],
          },
          io,
          env,
        );
      }
      case 'check': {
        if (values.connect) {
          if (rest.length > 1) throw new UsageError('check --connect takes at most one target: an alias or @tag');
          const { checkConnectCommand } = await import('./check-connect.js');
          return await checkConnectCommand(
            paths,
            { ...(rest[0] !== undefined ? { target: rest[0] } : {}), json: values.json, strict: values.strict },
            io,
            env,
          );
        }
        expectArgs(rest, 0, 'check takes no arguments (check --connect takes an alias or @tag)');
        const { checkCommand } = await import('./check.js');
        return await checkCommand(paths, io, env, { strict: values.strict });
      }
      case 'keyscan': {
        if (rest.length > 1) throw new UsageError('keyscan takes at most one target: an alias or @tag (none: every host)');
        const { keyscanCommand } = await import('./keyscan.js');
        return await keyscanCommand(paths, { ...(rest[0] !== undefined ? { target: rest[0] } : {}), yes: values.yes }, io, env);
      }
      case 'plan': {
        const file = fileOf(values.read, values.write, dash);
        if (file) {
          expectArgs(rest, 1, `plan needs one target: an alias or @tag (sshgate plan web1 --${file.access} ${file.path})`);
          const { planFileCommand } = await import('./plan.js');
          return await planFileCommand(
            paths,
            rest[0] as string,
            file,
            values.json,
            io,
            principalOf(values.as, values.role),
            becomeOf(values.become),
          );
        }
        expectTarget(rest, dash, 'plan');
        const text = after.join(' ');
        if (dash === -1 || text.trim() === '')
          throw new UsageError('plan needs a command after "--" (sshgate plan web1 -- uptime), or --read PATH or --write PATH');
        const { planCommand } = await import('./plan.js');
        return await planCommand(
          paths,
          rest[0] as string,
          text,
          values.json,
          io,
          principalOf(values.as, values.role),
          becomeOf(values.become),
        );
      }
      case 'policy': {
        const [sub, ...args] = rest;
        if (sub === 'test') {
          if (args.length > 1) throw new UsageError('policy test takes at most one path');
          const casesPath = args[0] ?? testsDirOf(paths.policyPath);
          if (!casesPath) throw new UsageError(`no tests folder beside ${paths.policyPath}; name the cases file or folder`);
          const { policyTestCommand } = await import('./policy-test.js');
          return await policyTestCommand(paths, casesPath, io);
        }
        if (sub === 'diff') {
          expectArgs(args, 2, 'policy diff needs two policies: OLD NEW');
          const generate = wholeNumber(values.generate, '--generate', DEFAULTS.diffGenerated, 0, 10_000);
          const seed = wholeNumber(values.seed, '--seed', DEFAULTS.diffSeed, 0, 2 ** 31 - 1);
          const { policyDiffCommand } = await import('./policy-diff.js');
          return await policyDiffCommand(paths, args[0] as string, args[1] as string, io, { generate, seed });
        }
        throw new UsageError(`unknown policy command "${sub ?? ''}"; expected test or diff`);
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`sshgate: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
}

/** The deployment's state dir: --state-dir, else SSHGATE_STATE_DIR, else one derived from the config and policy paths. */
function stateDirOf(values: { 'state-dir'?: string | undefined }, env: Env, paths: Paths): string | undefined {
  return values['state-dir'] ?? settingOf(env, ENV.stateDir) ?? defaultStateDir(env, paths);
}

/** The principal of `--as NAME` and its `--role ROLE`s, as a rule's callers: would name them. */
function principalOf(name: string | undefined, roles: string[] | undefined): Principal | undefined {
  if (name === undefined) {
    if (roles !== undefined)
      throw new UsageError('--role needs --as NAME: the principal that has the role (sshgate plan --as alice --role ops …)');
    return undefined;
  }
  const problem = callerNameProblem(name) ?? (roles ?? []).map(roleNameProblem).find((p) => p !== undefined);
  if (problem) throw new UsageError(`--as/--role: ${problem}`);
  return { name, roles: [...new Set(roles ?? [])], via: 'command-line' };
}

/**
 * The file operation of `plan --read PATH` or `--write PATH`, or undefined for a command plan. One
 * question per plan: both flags, or a flag and a command after `--`, are a usage error. The path is
 * judged as given: a spelling the policy refuses is a denial with its reason, not a usage error.
 */
function fileOf(read: string | undefined, write: string | undefined, dash: number): { access: FileAccess; path: string } | undefined {
  if (read === undefined && write === undefined) return undefined;
  if (read !== undefined && write !== undefined)
    throw new UsageError('plan takes one of --read PATH and --write PATH: writing does not imply reading, so plan each');
  if (dash !== -1) throw new UsageError('plan takes a command after "--" or --read/--write PATH, not both');
  return read !== undefined ? { access: 'read', path: read } : { access: 'write', path: write as string };
}

/** `--become USER`, checked as a rule's become: is. */
function becomeOf(user: string | undefined): string | undefined {
  const problem = user === undefined ? undefined : becomeUserProblem(user);
  if (problem) throw new UsageError(`--become: ${problem}`);
  return user;
}

/** A whole number option in [min, max], or its default. */
function wholeNumber(value: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max)
    throw new UsageError(`${flag} takes a whole number from ${min} to ${max}, not "${value}"`);
  return n;
}

function expectArgs(args: readonly string[], n: number, message: string): void {
  if (args.length !== n) throw new UsageError(message);
}

function logLevelOf(level: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    throw new UsageError(`unknown log level "${level}"; expected one of ${LOG_LEVELS.join(', ')}`);
  return level as LogLevel;
}

/** One alias or @tag before `--`; words after the target without a `--` are a forgotten `--`. */
function expectTarget(args: readonly string[], dash: number, command: string): void {
  if (args.length > 1 && dash === -1) {
    throw new UsageError(
      `${command} needs "--" between the target and the command: sshgate ${command} ${args[0] ?? 'web1'} -- ${args.slice(1).join(' ')}`,
    );
  }
  expectArgs(args, 1, `${command} needs one target: an alias or @tag`);
}
