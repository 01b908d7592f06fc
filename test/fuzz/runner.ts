/**
 * Runs shell lines for the differential fuzzer, one at a time, inside the namespaces its parent
 * made for it: no network, private mounts (fresh tmpfs on every directory the fuzz user may write
 * to), its own process ids. Each line runs as the unprivileged fuzz user, in the sandbox as cwd
 * and HOME, stdin from /dev/null, under a time limit; then every process the line left behind is
 * waited for until the limit and killed, and every file it created anywhere writable is reported
 * and removed.
 *
 * Protocol: one JSON job per stdin line, one JSON result per stdout line. Started as
 * `node --input-type=module -e <this file, compiled>`, so it imports nothing but node:.
 */
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface RunnerConfig {
  uid: number;
  gid: number;
  user: string;
  /** cwd and HOME of every line; holds the fixtures. */
  box: string;
  /** Every other directory the fuzz user can write to; each is an empty tmpfs here. */
  watch: string[];
  /** Files present in the box before every line (name → content). */
  fixtures: Record<string, string>;
  /** Text of a fixture no allowed line may read: seen in the output, it leaked. */
  secret: string;
}

export interface RunJob {
  id: number;
  argv: string[];
  timeoutMs: number;
}

export interface RunResult {
  id: number;
  /** Files that appeared, as absolute paths: a line that creates one wrote where it may not. */
  created: string[];
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** The secret fixture's text appeared on stdout or stderr. */
  leaked: boolean;
  /** Processes outlived the shell (a background job) and were waited for, then killed. */
  lingered: boolean;
  ms: number;
  error?: string;
}

const POLL_MS = 2;
/** Output kept per stream, enough to find the secret in. */
const KEEP_BYTES = 65_536;

export function startRunner(config: RunnerConfig): void {
  const env = {
    HOME: config.box,
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    USER: config.user,
    LOGNAME: config.user,
    LANG: 'C.UTF-8',
  };
  restore(config);
  const queue: RunJob[] = [];
  let busy = false;
  const pump = (): void => {
    if (busy) return;
    const job = queue.shift();
    if (!job) return;
    busy = true;
    void runOne(config, env, job).then((result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      busy = false;
      pump();
    });
  };
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (text) => {
    if (text.trim() === '') return;
    queue.push(JSON.parse(text) as RunJob);
    pump();
  });
  rl.on('close', () => {
    const waitIdle = (): void => {
      if (busy || queue.length > 0) setTimeout(waitIdle, 10);
      else process.exit(0);
    };
    waitIdle();
  });
}

async function runOne(config: RunnerConfig, env: Record<string, string>, job: RunJob): Promise<RunResult> {
  const started = performance.now();
  const deadline = started + job.timeoutMs;
  let timedOut = false;
  let lingered = false;
  let output = '';
  const outcome = await new Promise<{ exitCode: number | null; signal: string | null; error?: string }>((resolve) => {
    const child = spawn(job.argv[0] as string, job.argv.slice(1), {
      cwd: config.box,
      env,
      uid: config.uid,
      gid: config.gid,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      if (output.length < 2 * KEEP_BYTES) output += chunk.toString('latin1');
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const timer = setTimeout(() => {
      timedOut = true;
      killOthers();
    }, job.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ exitCode: null, signal: null, error: err.message });
    });
    // 'close': the shell is gone and so is every holder of its stdout and stderr (or the timer
    // killed them), so all its output has been read.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ exitCode: code, signal });
    });
  });
  // What the line started in the background may still create the file: wait for it, to the limit.
  while (others().length > 0) {
    lingered = true;
    if (performance.now() >= deadline) {
      timedOut = true;
      killOthers();
    }
    await sleep(POLL_MS);
  }
  const created = scan(config);
  if (created.length > 0 || boxChanged(config)) restore(config);
  const leaked = output.includes(config.secret);
  return { id: job.id, created, ...outcome, timedOut, leaked, lingered, ms: Math.round((performance.now() - started) * 10) / 10 };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Live processes in this pid namespace other than its init and this runner (zombies excluded). */
function others(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === 1 || pid === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
    } catch {
      continue;
    }
    out.push(pid);
  }
  return out;
}

function killOthers(): void {
  for (const pid of others()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** Every entry, in the box and the watched directories, that was not there before the line. */
function scan(config: RunnerConfig): string[] {
  const created: string[] = [];
  for (const name of readdirSync(config.box)) if (!(name in config.fixtures)) created.push(join(config.box, name));
  for (const dir of config.watch) for (const name of readdirSync(dir)) created.push(join(dir, name));
  return created;
}

function boxChanged(config: RunnerConfig): boolean {
  const st = lstatSync(config.box);
  if ((st.mode & 0o7777) !== 0o700 || st.uid !== config.uid) return true;
  return Object.keys(config.fixtures).some((name) => !existsSync(join(config.box, name)));
}

/** Back to the state before any line: an empty box with its fixtures, empty watched dirs. */
function restore(config: RunnerConfig): void {
  for (const dir of [config.box, ...config.watch]) {
    for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
  }
  chownSync(config.box, config.uid, config.gid);
  chmodSync(config.box, 0o700);
  for (const [name, content] of Object.entries(config.fixtures)) writeFileSync(join(config.box, name), content, { mode: 0o644 });
}
