/**
 * Privilege elevation (`become`): the exec request that runs a script as another user through
 * sudo or doas, and the answer to sudo's password prompt. The script still runs under the host's
 * pinned interpreter (interpreter.ts), as the target user:
 *
 *   exec /bin/sh -c '…' : echo <pid marker> $$; exec sudo -S -k -p '<prompt>' -u USER -- <pinned> -c -- '<ok>; SCRIPT' <shell>
 *
 * The pid line comes from the shell sshd started, before it execs sudo: so the pid the cancel sweep
 * gets is still the leader of the command's session, and the elevated tree is its descendants.
 *
 * The password is never in argv, the environment or a file: sudo reads it from the channel's stdin
 * (`-S`). sshgate writes it only when sudo's prompt — a random nonce per call, `-p` — is the first
 * thing on stderr, and only once: a second prompt means the password was refused, and stdin is
 * closed so that sudo gives up rather than wait. Once the elevated shell runs it prints a second
 * random marker on stdout (Ansible's BECOME-SUCCESS); from then on nothing on stderr is answered,
 * so a command that prints the prompt cannot make sshgate give it the password. A call's own stdin
 * is written only after that marker, so it never reaches sudo as a password. `-k` makes sudo ignore
 * a cached timestamp, so each call asks (or not) by the sudoers rule alone.
 *
 * Without a password sudo runs as `sudo -n`, which fails at once where sudoers wants one. doas
 * reads passwords only from a terminal, so it is used for passwordless rules alone (`doas -n`).
 */
import { randomBytes } from 'node:crypto';
import { SshgateError } from '../errors.js';
import { feedStdin, type StdinFeed, type StdinWriter } from './exec.js';
import { pinnedCommand, PINNED, shQuote, SYSTEM_PATH, type HostShell } from './interpreter.js';

/** How a host's credential elevates, from credentials.yml. */
export interface BecomeConfig {
  method: 'sudo' | 'doas';
  /** The password sudo asks for (the login user's, unless sudoers says targetpw); absent: passwordless. */
  password?: string;
}

/** One elevated run: the user, how, and the nonces of this call. */
export interface Elevation extends BecomeConfig {
  user: string;
}

/** Output before the ok marker is passed on; a marker not seen in this many bytes never comes. */
const MARKER_WINDOW = 8192;

/** How much of sudo's stderr is kept for an error message. */
const SAID_BYTES = 4096;

/** The user names a call may elevate to: what config/file-formats.ts's BecomeUser accepts. */
const USER_RE = /^[A-Za-z_][A-Za-z0-9._-]{0,31}$/;

/** A nonce the host cannot guess before the command starts; hex, so no shell or sudo `%` escapes. */
function nonce(kind: string): string {
  return `sshgate-${kind}-${randomBytes(12).toString('hex')}`;
}

/** The words that run `script` under the pinned interpreter as the elevation's user, quoted for sh. */
function elevatedWords(shell: HostShell, script: string, e: Elevation, prompt: string): string {
  if (!USER_RE.test(e.user)) throw new RangeError(`not a user name: ${JSON.stringify(e.user)}`);
  const inner = `${PINNED[shell]} -c -- ${shQuote(script)} ${shell}`;
  if (e.method === 'doas') return `doas -n -u ${e.user} -- ${inner}`;
  // -k: ignore a cached timestamp; -S: the password from stdin; -p: our prompt on stderr.
  return e.password === undefined ? `sudo -n -u ${e.user} -- ${inner}` : `sudo -S -k -p '${prompt}' -u ${e.user} -- ${inner}`;
}

/**
 * The exec request for an elevated command, and the state that answers sudo on its channel. The
 * caller feeds it the command's stdout (after the pid line) and stderr, and gives it the channel's
 * stdin once the channel is open.
 */
export class BecomeRun {
  readonly prompt = nonce('become-prompt');
  private readonly ok = nonce('become-ok');
  /** The elevated shell has started: sudo is done with stdin. */
  elevated = false;
  /** sudo asked for the password a second time: it refused the one given. */
  refused = false;
  /** stderr began with something other than the prompt, so the prompt is never answered. */
  private spokeFirst = false;
  private answered = false;
  private stderrStart: Buffer | undefined = Buffer.alloc(0);
  private stdoutStart: Buffer | undefined = Buffer.alloc(0);
  /** stdout bytes passed on before the ok marker. */
  private seen = 0;
  private stdin: StdinWriter | undefined;
  private stdinClosed = false;
  /** The call's stdin was written. */
  private delivered = false;
  /** What sudo (or doas) wrote on stderr before the elevated shell ran (its start), for an error. */
  private said = Buffer.alloc(0);

  constructor(
    readonly elevation: Elevation,
    /** The call's own stdin, written (or fed) after the elevated shell has started. */
    private readonly data?: Buffer | StdinFeed,
  ) {}

  /** The command line for the pinned shell that runs `script` (the pid prelude included) elevated. */
  script(shell: HostShell, script: string, pidLine: string): string {
    // sudo and doas are looked up in the system's directories only: the login user's PATH comes
    // from files they control (.bashrc, ~/.ssh/environment), where a fake sudo would be given the password.
    return `${pidLine}; PATH=${SYSTEM_PATH}; export PATH; exec ${elevatedWords(shell, `echo ${this.ok}; ${script}`, this.elevation, this.prompt)}`;
  }

  /** The login-shell request for `script`, elevated, with `pidLine` run first by the unelevated shell. */
  command(shell: HostShell, script: string, pidLine: string): string {
    return pinnedCommand('sh', this.script(shell, script, pidLine));
  }

  /** The channel's stdin: held until sudo is answered (or needs no answer). */
  attach(stdin: StdinWriter): void {
    this.stdin = stdin;
    // Without a password there is nothing to answer: sudo -n and doas -n never read stdin.
    if (this.elevation.password === undefined) this.sendData();
  }

  /**
   * stdout: the ok marker's line is taken off, the rest returned as output. Output before it (a
   * chatty login script) passes through; a marker not seen in the first MARKER_WINDOW bytes never
   * will be.
   */
  stdout(chunk: Buffer): Buffer {
    if (!this.stdoutStart) return chunk;
    const line = Buffer.from(`${this.ok}\n`);
    const data = Buffer.concat([this.stdoutStart, chunk]);
    const at = data.indexOf(line);
    if (at !== -1) {
      this.stdoutStart = undefined;
      this.elevated = true;
      if (this.elevation.password !== undefined) this.sendData();
      return Buffer.concat([data.subarray(0, at), data.subarray(at + line.length)]);
    }
    if (this.seen + data.length > MARKER_WINDOW) {
      this.stdoutStart = undefined;
      return data;
    }
    // Hold back only a tail that may be the start of the line.
    let keep = Math.min(data.length, line.length - 1);
    while (keep > 0 && !data.subarray(data.length - keep).equals(line.subarray(0, keep))) keep--;
    this.seen += data.length - keep;
    this.stdoutStart = data.subarray(data.length - keep);
    return data.subarray(0, data.length - keep);
  }

  /** stderr: the prompt is answered (once) and taken off; every other byte is output. */
  stderr(chunk: Buffer): Buffer {
    let data = chunk;
    if (this.stderrStart) {
      data = Buffer.concat([this.stderrStart, chunk]);
      const prompt = Buffer.from(this.prompt);
      if (data.length < prompt.length && prompt.subarray(0, data.length).equals(data)) {
        this.stderrStart = data;
        return Buffer.alloc(0);
      }
      this.stderrStart = undefined;
      if (data.subarray(0, prompt.length).equals(prompt) && this.elevation.password !== undefined && !this.elevated) {
        this.answer();
        data = data.subarray(prompt.length);
      } else if (this.elevation.password !== undefined && !this.elevated) {
        // Something spoke first (a sudo lecture, a login script): the prompt is not answered, and
        // sudo must not wait for a password that will not come.
        this.spokeFirst = true;
        this.closeStdin();
      }
    } else if (this.answered && !this.elevated && !this.refused) {
      // sudo asks again only when it refused the password: it is not given twice.
      const at = data.indexOf(this.prompt);
      if (at !== -1) {
        this.refused = true;
        this.closeStdin();
        data = Buffer.concat([data.subarray(0, at), data.subarray(at + this.prompt.length)]);
      }
    }
    // It arrives in pieces ("sudo", ": a password is required"): kept whole, up to a bound.
    if (!this.elevated && this.said.length < SAID_BYTES) this.said = Buffer.concat([this.said, data]).subarray(0, SAID_BYTES);
    return data;
  }

  /**
   * After the channel closed: the error when the command never ran elevated (sudo refused), or
   * undefined when it did.
   */
  failure(alias: string, shell: HostShell): SshgateError | undefined {
    if (this.elevated) {
      // The command ran, but stdin had been closed before the call's data could follow (stderr
      // spoke first under a sudo that asked nothing): it read nothing, which must not pass for success.
      if (this.hasData() && !this.delivered) {
        return new SshgateError(
          'become_failed',
          `the command ran as ${this.elevation.user} on host "${alias}" without the call's stdin: stdin was closed before it could follow`,
          "something wrote to stderr before sudo (a login script, a lecture): keep the login user's startup quiet on stderr, or give no become password where sudoers needs none",
        );
      }
      return undefined;
    }
    const { user, method } = this.elevation;
    const first = firstLine(this.said);
    const said = first ? ` (${method} said: ${first})` : '';
    if (this.refused) {
      return new SshgateError(
        'become_failed',
        `sudo refused the password for ${user} on host "${alias}"${said}`,
        "sudo asks for the login user's password (not the target's, unless sudoers sets targetpw or rootpw): check the secret named by become_password_secret of the host's credential",
      );
    }
    if (this.spokeFirst) {
      return new SshgateError(
        'become_failed',
        `sudo did not run the command as ${user} on host "${alias}": stderr began with "${first}" instead of sudo's prompt, so the password was not given`,
        'sshgate answers the prompt only when it is the first thing on stderr: turn off the sudo lecture for the login user (Defaults:USER !lecture) and keep login scripts quiet on stderr',
      );
    }
    const interpreter = PINNED[shell].split(' ')[0] as string;
    return new SshgateError(
      'become_failed',
      `${method} did not run the command as ${user} on host "${alias}"${said}`,
      this.elevation.password === undefined
        ? `without become_password_secret sshgate runs ${method} -n: the ${method === 'doas' ? 'doas.conf' : 'sudoers'} rule must let the login user run ${interpreter} as ${user} without a password (NOPASSWD${method === 'doas' ? ', nopass' : ''}), or set become_password_secret`
        : `the sudoers rule must let the login user run ${interpreter} as ${user}: every elevated command runs under the host's pinned interpreter`,
    );
  }

  private answer(): void {
    if (this.answered || !this.stdin || this.elevation.password === undefined) return;
    this.answered = true;
    void this.stdin.write(Buffer.from(`${this.elevation.password}\n`));
    // The call's stdin follows only once the elevated shell runs; without any, stdin closes now
    // so that a refused password ends sudo instead of leaving it waiting for another.
    if (!this.data) this.closeStdin();
  }

  private sendData(): void {
    if (!this.stdin || this.stdinClosed) return;
    if (typeof this.data === 'function') {
      this.delivered = true;
      // Closed by the feed when it is done, not here: stdinClosed says only that it will be.
      this.stdinClosed = true;
      feedStdin(this.data, this.stdin);
      return;
    }
    if (this.data && this.hasData()) {
      void this.stdin.write(this.data);
      this.delivered = true;
    }
    this.closeStdin();
  }

  /**
   * The call has stdin to give: a non-empty buffer, or a feed (which has bytes: an empty upload
   * is given as an empty buffer). Never a feed's `length`, which is its arity.
   */
  private hasData(): boolean {
    return typeof this.data === 'function' || (this.data !== undefined && this.data.length > 0);
  }

  private closeStdin(): void {
    if (this.stdinClosed || !this.stdin) return;
    this.stdinClosed = true;
    this.stdin.end();
  }
}

/** The first line of some output, printable and short, for a message. */
function firstLine(data: Buffer): string {
  const line =
    data
      .toString('utf8')
      .split('\n')
      .find((l) => l.trim() !== '') ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = line.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim();
  return clean.length > 200 ? `${clean.slice(0, 200)}…` : clean;
}
