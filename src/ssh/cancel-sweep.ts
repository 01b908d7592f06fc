/**
 * The cancel path on the host side, in one place. The first line of defence is the channel signal
 * (exec.ts). The second is this sweep: a child that leaves the command's process group (setsid, a
 * daemonising tool) escapes the signal OpenSSH delivers, and OpenSSH refuses signal requests
 * altogether in sessions without privilege separation (root logins). So every command starts by
 * printing a marker with its shell's pid, and a cancel also runs a fixed sweep on a second
 * channel: list the command's processes while the tree is intact, TERM them, KILL what is left
 * after the grace period. The pool hands this module the connection with hold/release callbacks
 * and a way to open a fresh one; it knows nothing else of the pool.
 *
 * sshd starts each command's login shell with setsid(), and the login shell execs the pinned
 * shell (interpreter.ts), which keeps that pid: so the pinned shell's pid is also the session id
 * of everything the command starts, and Linux does not hand that number to a new process while any
 * member of the session lives. The sweep takes every process of that session — also when the
 * shell itself has exited — and, only while the shell still leads its session, the descendants
 * that moved to sessions of their own.
 */
import { randomFillSync } from 'node:crypto';
import type { Logger } from 'pino';
import type { Client } from 'ssh2';
import { BecomeRun, type Elevation } from './become.js';
import { DEFAULT_GRACE_MS, execOnConnection, feedStdin, graceFor, type ExecOutcome, type OutputSink, type StdinFeed } from './exec.js';
import { SshgateError } from '../errors.js';
import { pinnedCommand, type HostShell } from './interpreter.js';
import { EscapeStripper } from './terminal.js';

/** What the pool lends a command that can be swept: its connection, and a way to another. */
export interface SweepConnection {
  alias: string;
  shell: HostShell;
  client: Client;
  logger: Logger;
  /** Keep the connection open for the sweep's channel, and let it go after. */
  hold(): void;
  release(): void;
  /** A fresh connection to the same host, for when the server refuses another session; the sweep ends it. */
  openFresh(): Promise<Client | undefined>;
  /** Told of every sweep, so that a closing pool can wait for the sweeps still running. */
  track(done: Promise<void>): void;
}

export interface SweepableRun {
  signal: AbortSignal;
  stdout: OutputSink;
  stderr: OutputSink;
  graceMs?: number;
  stdin?: Buffer | StdinFeed;
  /**
   * Run with a terminal: stdout is the terminal's bytes (stderr comes with them), escape
   * sequences removed and `\r\n` made `\n` (strip) or as they are (keep).
   */
  tty?: { ansi: 'strip' | 'keep' };
  /** Run as another user through sudo or doas (become.ts); the sweep then runs elevated too. */
  become?: Elevation;
}

/**
 * Runs the command so that a cancel reaches all of it: with the pid line first, the channel signal
 * on abort, and the sweep before that signal. Resolves when the command and its sweep have ended.
 */
export async function runSweepable(conn: SweepConnection, command: string, x: SweepableRun): Promise<ExecOutcome> {
  const grace = x.graceMs ?? DEFAULT_GRACE_MS;
  const marker = pidMarker();
  const reader = new PidLineReader(marker);
  // The pid line is read from the raw bytes, before the escape sequences are stripped.
  const stripper = x.tty?.ansi === 'strip' ? new EscapeStripper() : undefined;
  let sweep: Promise<void> | undefined;
  // sudo's prompt and its answer would travel through the terminal, echoed back with the output.
  if (x.become && x.tty) throw new SshgateError('invalid_input', 'become cannot be given with tty: true', 'run the command without tty');
  const become = x.become ? new BecomeRun(x.become, x.stdin) : undefined;
  // The marker's `$$` is the pid sshd started: the pinned shell's, or, elevated, the shell that
  // execs sudo; either way the leader of the command's session.
  const request = become ? become.command(conn.shell, command, pidLine(marker)) : pinnedCommand(conn.shell, withPidLine(command, marker));
  const outcome = await execOnConnection(conn.client, request, {
    signal: x.signal,
    graceMs: grace,
    ...(become
      ? { holdStdin: (stdin) => become.attach(stdin) }
      : typeof x.stdin === 'function'
        ? { holdStdin: (stdin) => feedStdin(x.stdin as StdinFeed, stdin) }
        : x.stdin
          ? { stdin: x.stdin }
          : {}),
    ...(x.tty ? { tty: true } : {}),
    stdout: (d) => {
      const read = reader.push(d);
      const out = become && read.length > 0 ? become.stdout(read) : read;
      const text = stripper && out.length > 0 ? stripper.push(out) : out;
      return text.length > 0 ? x.stdout(text) : undefined;
    },
    stderr: become
      ? (d) => {
          const out = become.stderr(d);
          return out.length > 0 ? x.stderr(out) : undefined;
        }
      : x.stderr,
    beforeSignal: () => {
      if (reader.pid === undefined) return Promise.resolve();
      const { listed, done } = startSweep(conn, reader.pid, graceFor(x.signal, grace), x.become);
      sweep = done;
      return listed;
    },
  });
  const rest = stripper?.end();
  if (rest && rest.length > 0) await x.stdout(rest);
  await sweep;
  if (outcome.lost && x.signal.aborted) conn.logger.warn({ alias: conn.alias }, `${outcome.lost}; processes of the task may remain`);
  // sudo refused: the command never ran, and its exit status is sudo's, not the command's.
  const refused = become && !x.signal.aborted && !outcome.lost ? become.failure(conn.alias, conn.shell) : undefined;
  if (refused) throw refused;
  return outcome;
}

/**
 * Runs the sweep on a further channel of the same connection, or of a fresh one when the server
 * refuses another session. `listed` settles once the sweep holds its list; `done` when it has
 * finished (bounded). Neither ever rejects.
 */
function startSweep(
  conn: SweepConnection,
  pid: number,
  graceMs: number,
  elevation?: Elevation,
): { listed: Promise<void>; done: Promise<void> } {
  let listed!: () => void;
  const listedP = new Promise<void>((r) => (listed = r));
  const runOn = (client: Client) =>
    new Promise<boolean>((resolve) => {
      // An elevated command's processes belong to its user (or root): only that user may signal
      // them, so the sweep runs elevated the same way, with its own prompt and answer. It is
      // POSIX sh, read by the host's pinned interpreter (the one sudoers lets the login user run);
      // unelevated, by /bin/sh.
      const become = elevation ? new BecomeRun(elevation) : undefined;
      const script = become ? become.command(conn.shell, sweepScript(pid, graceMs), ':') : pinnedCommand('sh', sweepScript(pid, graceMs));
      try {
        client.exec(script, (err, ch) => {
          if (err) return resolve(false);
          ch.on('data', (d: Buffer) => {
            if (d.includes('listed')) listed();
          });
          if (become) {
            become.attach({ write: (d) => Promise.resolve(ch.write(d) || true), end: () => ch.eof() });
            ch.stderr.on('data', (d: Buffer) => void become.stderr(d));
          } else ch.stderr.resume();
          ch.on('close', () => resolve(true));
        });
      } catch {
        resolve(false);
      }
    });
  conn.hold();
  const work = (async () => {
    if (await runOn(conn.client)) return;
    const fresh = await conn.openFresh().catch(() => undefined);
    if (!fresh)
      return void conn.logger.warn({ alias: conn.alias }, 'could not run the pid sweep: only the channel signal stops the command');
    try {
      await runOn(fresh);
    } finally {
      fresh.end();
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const done = Promise.race([work, new Promise<void>((r) => (timer = setTimeout(r, graceMs + 8000)))])
    .catch(() => undefined)
    .finally(() => {
      clearTimeout(timer);
      listed();
      conn.release();
    });
  conn.track(done);
  return { listed: listedP, done };
}

/** The first stdout line of a command: this marker, a space, and the shell's pid. */
export function pidMarker(): string {
  return `sshgate-pid-${randomHex(6)}`;
}

/** Random bytes drawn ahead (one system call a few hundred markers rather than one each). */
const entropy = Buffer.alloc(4096);
let entropyUsed = entropy.length;

function randomHex(bytes: number): string {
  if (entropyUsed + bytes > entropy.length) {
    randomFillSync(entropy);
    entropyUsed = 0;
  }
  const hex = entropy.toString('hex', entropyUsed, entropyUsed + bytes);
  entropyUsed += bytes;
  return hex;
}

/**
 * What the command is prefixed with, so that its shell prints `<marker> <pid>` first. It runs in
 * the pinned shell, never the login shell (fish has no `$$`).
 */
export function withPidLine(command: string, marker: string): string {
  return `${pidLine(marker)}; ${command}`;
}

/** The statement that prints `<marker> <pid>`. */
export function pidLine(marker: string): string {
  return `echo ${marker} $$`;
}

/** The sweep's first looks, 10 ms apart. */
const FAST_ROUNDS = 10;

/**
 * The sweep, in POSIX sh. It reads the process table (pid, parent, session) from ps, or from /proc
 * where ps is missing, prints "listed" once it holds the list (the caller signals the group only
 * then, so nothing is reparented before it is seen), TERMs the list, and KILLs whatever is still
 * there after the grace period; it exits as soon as nothing of the list is left.
 */
export function sweepScript(pid: number, graceMs: number): string {
  if (!Number.isSafeInteger(pid) || pid <= 1) throw new RangeError(`not a pid: ${pid}`);
  const table =
    `{ ps -A -o pid= -o ppid= -o sid= 2>/dev/null || ` +
    `for f in /proc/[0-9]*/stat; do { read -r s < "$f"; } 2>/dev/null || continue; p=\${s%% *}; s=\${s##*) }; set -- $s; echo "$p $2 $4"; done; }`;
  // Roots: the session's members. If the pid is alive but leads no session of that number, it is
  // not our shell any more: list nothing. Then add the descendants of the roots by parent pid.
  const select =
    `awk -v r=${pid} '{ kids[$2] = kids[$2] " " $1; if ($3 == r) roots = roots " " $1; if ($1 == r && $3 != r) stranger = 1 } ` +
    `END { if (stranger) exit; out = roots; q = roots; seen[""] = 1; n = split(roots, a, " "); for (i = 1; i <= n; i++) seen[a[i]] = 1; ` +
    `while (q != "") { n = split(q, a, " "); q = ""; ` +
    `for (i = 1; i <= n; i++) { m = split(kids[a[i]], b, " "); for (j = 1; j <= m; j++) if (!(b[j] in seen)) { seen[b[j]] = 1; out = out " " b[j]; q = q " " b[j] } } } print out }'`;
  // Most trees are gone a few milliseconds after the TERM: look again every 10 ms for the first
  // 100 ms (a cancel returned ~100 ms late when the first look came after 100 ms), then every 100.
  const rounds = FAST_ROUNDS + Math.max(0, Math.ceil((graceMs - FAST_ROUNDS * 10) / 100));
  // A zombie answers kill -0 but is gone for good; /proc tells them apart where it exists. The
  // shell's own `read`, not `cat`: a process started per pid per look made each look take ~20 ms
  // on a busy host.
  const alive =
    `alive() { kill -0 $1 2>/dev/null || return 1; [ -r /proc/$1/stat ] || return 0; ` +
    `{ read -r s < /proc/$1/stat; } 2>/dev/null || return 1; s=\${s##*) }; [ "\${s%% *}" != Z ]; }`;
  // Waits for the listed processes to go, up to the grace period, and KILLs only what is left.
  const settle =
    `i=0; while [ $i -lt ${rounds} ]; do a=; for p in $l; do alive $p && a="$a $p"; done; ` +
    `[ -z "$a" ] && exit 0; if [ $i -lt ${FAST_ROUNDS} ]; then sleep 0.01; else sleep 0.1; fi; i=$((i+1)); done`;
  return [
    alive,
    `l=$(${table} | ${select})`,
    'echo listed',
    '[ -n "$l" ] || exit 0',
    'kill -TERM $l 2>/dev/null',
    settle,
    'kill -KILL $a 2>/dev/null',
    'exit 0',
  ].join('; ');
}

/** Output before the marker is passed on; a marker not seen in this many bytes is given up on. */
const MARKER_WINDOW = 8192;
/** What may follow the marker on its line: the pid, and a `\r` where a terminal ends lines in `\r\n`. */
const PID_REST = /^([0-9]{1,10})\r?$/;
const PID_REST_SO_FAR = /^[0-9]{0,10}\r?$/;

/**
 * Takes the marker line off a command's stdout. Feed it every chunk; it returns the bytes that are
 * real output. What comes before the marker passes through as output: lines of a chatty login
 * script, and on a terminal the echo of input typed before the shell printed it, which shares the
 * marker's line. The marker is random, so it is looked for anywhere; its line is `<marker> <pid>`
 * ended by `\n` or, on a terminal, `\r\n`.
 */
export class PidLineReader {
  pid: number | undefined;
  private pending: Buffer | undefined = Buffer.alloc(0);
  private scanned = 0;
  private readonly prefix: Buffer;

  constructor(marker: string) {
    this.prefix = Buffer.from(`${marker} `);
  }

  push(chunk: Buffer): Buffer {
    if (!this.pending) return chunk;
    let data = Buffer.concat([this.pending, chunk]);
    const out: Buffer[] = [];
    const pass = (bytes: Buffer) => {
      out.push(bytes);
      this.scanned += bytes.length;
    };
    for (;;) {
      if (this.scanned > MARKER_WINDOW) {
        this.pending = undefined;
        out.push(data);
        return Buffer.concat(out);
      }
      const at = data.indexOf(this.prefix);
      if (at === -1) {
        // Hold back only a tail that may be the start of the marker.
        const keep = partialPrefix(data, this.prefix);
        pass(data.subarray(0, data.length - keep));
        data = data.subarray(data.length - keep);
        if (this.scanned > MARKER_WINDOW) continue;
        this.pending = data;
        return Buffer.concat(out);
      }
      pass(data.subarray(0, at));
      const rest = data.subarray(at + this.prefix.length);
      const nl = rest.indexOf(0x0a);
      const line = (nl === -1 ? rest : rest.subarray(0, nl)).toString('latin1');
      const pid = nl === -1 ? undefined : PID_REST.exec(line)?.[1];
      if (pid !== undefined) {
        this.pid = Number(pid);
        this.pending = undefined;
        out.push(rest.subarray(nl + 1));
        return Buffer.concat(out);
      }
      if (nl === -1 && PID_REST_SO_FAR.test(line) && this.scanned <= MARKER_WINDOW) {
        // The pid and its line end may still come.
        this.pending = data.subarray(at);
        return Buffer.concat(out);
      }
      // The marker followed by something else is output.
      pass(data.subarray(at, at + this.prefix.length));
      data = rest;
    }
  }
}

/** The length of the longest end of `data` that is a proper start of `prefix`. */
function partialPrefix(data: Buffer, prefix: Buffer): number {
  for (let n = Math.min(data.length, prefix.length - 1); n > 0; n--) {
    if (data.subarray(data.length - n).equals(prefix.subarray(0, n))) return n;
  }
  return 0;
}
