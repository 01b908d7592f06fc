/**
 * The executor of the differential fuzzer: a pool of runners (runner.ts), each in its own network,
 * mount and pid namespaces made here with util-linux `unshare`, each running one line at a time as
 * the unprivileged user `sshgate-fuzz`. Needs root, to make the user and the namespaces.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { addUserOnce } from '../support/system-user.js';
import type { RunJob, RunResult, RunnerConfig } from './runner.js';
import type { Shell } from './engine.js';

export const FUZZ_USER = 'sshgate-fuzz';
/** Created on the host, empty; each runner mounts its own tmpfs over it. */
const ROOT = '/run/sshgate-fuzz';
/**
 * Where each runner sees this Node binary: it may live under a directory that gets a tmpfs (the
 * image's Node in a checkout under /tmp), so it is bind-mounted here before those mounts.
 */
const NODE_SEEN_AS = '/run/sshgate-fuzz-node';
/** Where the fuzz user may write outside the box (found with find / -perm -o+w): a tmpfs each. */
const WATCHED = ['/tmp', '/var/tmp', '/run/lock', '/dev/shm'];
/** What the SECRET fixture holds: output with it means a denied file was read. */
const SECRET_TEXT = 'sshgate-fuzz-secret-3f9a1c';
/** `touch`: a file named like the payload's command, so a glob in a command name can find one. */
const FIXTURES = { 'a.txt': 'hello\n', 'b.log': 'root\n', touch: '', SECRET: `${SECRET_TEXT}\n` };

/**
 * How a line reaches the shell. `plain`: `bash --noprofile --norc -c LINE` or `dash -c LINE`.
 * `pinned`: the login shell runs what src/ssh/interpreter.ts's pinnedCommand(shell, LINE) makes of
 * it, as sshd would run what sshgate sends.
 */
export type ExecMode = 'plain' | 'pinned';

export interface Executor {
  mode: ExecMode;
  argv(shell: Shell, line: string): string[];
}

const PLAIN: Record<Shell, (line: string) => string[]> = {
  bash: (line) => ['/bin/bash', '--noprofile', '--norc', '-c', line],
  sh: (line) => ['/bin/dash', '-c', line],
};

/** pinned when the tree has src/ssh/interpreter.ts with pinnedCommand, else plain; or as asked. */
export async function executorFor(wanted: ExecMode | 'auto', loginShell = '/bin/sh'): Promise<Executor> {
  const pinned = wanted === 'plain' ? undefined : await loadPinnedCommand();
  if (wanted === 'pinned' && !pinned)
    throw new Error('--exec pinned: src/ssh/interpreter.ts has no pinnedCommand(shell, script) in this tree');
  if (!pinned) return { mode: 'plain', argv: (shell, line) => PLAIN[shell](line) };
  return { mode: 'pinned', argv: (shell, line) => [loginShell, '-c', pinned(shell, line)] };
}

type PinnedCommand = (shell: Shell, script: string) => string;

async function loadPinnedCommand(): Promise<PinnedCommand | undefined> {
  // From dist-fuzz/test/fuzz/ or test/fuzz/ to src/ssh/: the compiled module, else the source (vitest).
  for (const candidate of ['../../src/ssh/interpreter.js', '../../src/ssh/interpreter.ts']) {
    const url = new URL(candidate, import.meta.url);
    if (!existsSync(fileURLToPath(url))) continue;
    const mod = (await import(url.href)) as { pinnedCommand?: unknown };
    return typeof mod.pinnedCommand === 'function' ? (mod.pinnedCommand as PinnedCommand) : undefined;
  }
  return undefined;
}

/** Why lines cannot be executed here, or undefined when they can. */
export function sandboxUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'the executor needs Linux namespaces';
  if (process.getuid?.() !== 0) return 'the executor needs root (to create the fuzz user and the namespaces)';
  for (const bin of ['unshare', 'useradd', 'mount', '/bin/bash', '/bin/dash']) {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    } catch {
      return `the executor needs ${bin}`;
    }
  }
  return undefined;
}

/** The fuzz user's uid and gid, creating the user (no home, no password) if missing. */
export function ensureUser(): { uid: number; gid: number; shell: string } {
  const entry = addUserOnce(FUZZ_USER, ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/bin/sh']);
  const f = entry.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]), shell: f[6] || '/bin/sh' };
}

/** The runner's JavaScript: compiled beside this file (dist-fuzz), or compiled here from runner.ts. */
async function runnerSource(): Promise<string> {
  const here = dirname(fileURLToPath(import.meta.url));
  const compiled = join(here, 'runner.js');
  if (existsSync(compiled)) return readFileSync(compiled, 'utf8');
  const ts = (await import('typescript')).default;
  const out = ts.transpileModule(readFileSync(join(here, 'runner.ts'), 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  return out.outputText;
}

export interface PoolOptions {
  size: number;
  timeoutMs: number;
}

export interface Pool {
  run(argv: string[]): Promise<RunResult>;
  close(): Promise<void>;
}

interface Runner {
  child: ChildProcess;
  pending: Map<number, (r: RunResult) => void>;
}

/** Starts `size` runners; jobs go to the least loaded one, at most two queued on each. */
export async function startPool(opts: PoolOptions): Promise<Pool> {
  const why = sandboxUnavailable();
  if (why) throw new Error(why);
  const user = ensureUser();
  mkdirSync(ROOT, { recursive: true, mode: 0o755 });
  if (!existsSync(NODE_SEEN_AS)) writeFileSync(NODE_SEEN_AS, '', { mode: 0o755 });
  const source = `${await runnerSource()}\nstartRunner(JSON.parse(process.env.FUZZ_RUNNER_CONFIG));\n`;
  const config: RunnerConfig = {
    uid: user.uid,
    gid: user.gid,
    user: FUZZ_USER,
    box: join(ROOT, 'box'),
    watch: WATCHED,
    fixtures: FIXTURES,
    secret: SECRET_TEXT,
  };
  // pid 1 of each namespace is this sh: it mounts the tmpfs, then waits for node (not exec'd, so
  // that orphans of the lines are reaped by a shell, which reaps any child).
  const init = [
    'set -e',
    `mount --bind "$FUZZ_NODE" ${NODE_SEEN_AS}`,
    ...[...WATCHED, ROOT].map((d) => `mount -t tmpfs -o size=16m,mode=${d === ROOT ? '0755' : '1777'} fuzz "${d}"`),
    `mkdir -m 0700 "${config.box}"`,
    'ulimit -c 0',
    'ulimit -p 4096',
    `${NODE_SEEN_AS} --input-type=module -e "$FUZZ_RUNNER_SOURCE"`,
    'exit $?',
  ].join('\n');
  let nextId = 1;
  let failure: Error | undefined;
  let closing = false;
  const runners: Runner[] = [];
  /** Callers waiting for a runner with room. */
  const waiting: (() => void)[] = [];
  for (let i = 0; i < opts.size; i++) {
    const child = spawn(
      'unshare',
      ['--net', '--mount', '--pid', '--fork', '--mount-proc', '--propagation', 'private', '--kill-child', '--', '/bin/sh', '-c', init],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
        env: {
          PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
          FUZZ_NODE: process.execPath,
          FUZZ_RUNNER_SOURCE: source,
          FUZZ_RUNNER_CONFIG: JSON.stringify(config),
        },
      },
    );
    const runner: Runner = { child, pending: new Map() };
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
      const result = JSON.parse(text) as RunResult;
      const done = runner.pending.get(result.id);
      runner.pending.delete(result.id);
      done?.(result);
    });
    child.on('exit', (code, signal) => {
      if (closing) return;
      failure = new Error(`a fuzz runner stopped (${signal ?? `exit ${code}`})`);
      for (const done of runner.pending.values())
        done({
          id: 0,
          created: [],
          exitCode: null,
          signal: null,
          timedOut: false,
          leaked: false,
          lingered: false,
          ms: 0,
          error: failure.message,
        });
      runner.pending.clear();
      for (const wake of waiting.splice(0)) wake();
    });
    runners.push(runner);
  }

  // A function, not an inline check: TypeScript keeps `failure` narrowed to undefined across the
  // awaits below, though a runner's exit may set it while they wait.
  const failIfStopped = () => {
    if (failure) throw failure;
  };
  const run = async (argv: string[]): Promise<RunResult> => {
    failIfStopped();
    let runner = least();
    while (runner.pending.size >= 2) {
      await new Promise<void>((resolve) => waiting.push(resolve));
      failIfStopped();
      runner = least();
    }
    const job: RunJob = { id: nextId++, argv, timeoutMs: opts.timeoutMs };
    const result = await new Promise<RunResult>((resolve) => {
      runner.pending.set(job.id, resolve);
      runner.child.stdin?.write(`${JSON.stringify(job)}\n`);
    });
    waiting.shift()?.();
    if (result.error) failIfStopped();
    return result;
  };
  const least = (): Runner => runners.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));

  const close = async (): Promise<void> => {
    closing = true;
    await Promise.all(
      runners.map(
        (r) =>
          new Promise<void>((resolve) => {
            if (r.child.exitCode !== null || r.child.signalCode !== null) return resolve();
            r.child.once('exit', () => resolve());
            r.child.stdin?.end();
          }),
      ),
    );
  };
  return { run, close };
}
