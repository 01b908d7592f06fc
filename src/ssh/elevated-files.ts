/**
 * RemoteFiles as another user (`become`): every method runs one of sshgate's fixed scripts
 * (elevated-scripts.ts) through the elevation of become.ts, on the pool's exec path — so sudo's
 * prompt, the password, the ok marker and the elevated cancel sweep are handled exactly as for an
 * elevated command. The caller's values travel only as positional parameters, and a write's
 * content only on stdin (after sudo is answered): no free shell, no spliced text.
 *
 * SFTP runs as the login user and cannot elevate, so these operations are shell tools instead:
 * the same contract (temp file beside the target, compare-and-swap right before the rename, a
 * symlink at the last component refused, devices and FIFOs never opened), each a single exec.
 */
import { createHash, randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { SshgateError } from '../errors.js';
import {
  afterFrame,
  EXIT,
  firstLine,
  parseHash,
  parseList,
  parseRealpath,
  parseStat,
  parseWrite,
  plainStat,
  ReadStream,
  scriptCommand,
  type ParsedStat,
  type ScriptName,
} from './elevated-scripts.js';
import type { ExecOutcome, OutputSink, StdinFeed } from './exec.js';
import {
  fileTooLarge,
  type DirEntry,
  type FileRead,
  type HostHasher,
  type RemoteFiles,
  type RemoteStat,
  type TransferOptions,
  type WriteOptions,
  type WriteOutcome,
} from './remote-files.js';
import { FileOpStopped } from './sftp-io.js';
import { shortName } from './sftp.js';

/** Runs one command elevated (the pool's exec with the call's elevation), its output streamed. */
export type ScriptRunner = (
  command: string,
  io: { stdout: OutputSink; stderr: OutputSink; stdin?: Buffer | StdinFeed },
) => Promise<ExecOutcome>;

/** stdout kept for the scripts whose output is collected whole (all but read). */
const MAX_COLLECTED = 64 * 1024 * 1024;
/** What a download gathers before it hands the sink a write. */
const SINK_BATCH = 1024 * 1024;
/** stderr kept for a message. */
const MAX_STDERR = 8192;

interface Ran {
  status: number;
  /** stdout after the frame line. */
  out: Buffer;
  stderr: string;
}

export class ElevatedFiles implements RemoteFiles {
  constructor(
    private readonly run: ScriptRunner,
    private readonly alias: string,
    /** The user the scripts run as, for messages. */
    private readonly user: string,
    private readonly signal: AbortSignal,
  ) {}

  async realpath(path: string): Promise<string> {
    const r = await this.script('realpath', path, [path]);
    if (r.status !== 0) throw this.failure(r, path);
    return parseRealpath(r.out);
  }

  lstat(path: string): Promise<RemoteStat | null> {
    return this.statOf(path, '-P');
  }

  stat(path: string): Promise<RemoteStat | null> {
    return this.statOf(path, '-L');
  }

  async list(path: string, max: number): Promise<{ entries: DirEntry[]; total: number }> {
    const r = await this.script('list', path, [path]);
    if (r.status === EXIT.notADirectory)
      throw new SshgateError(
        'invalid_input',
        `${path} on host "${this.alias}" is a ${parseStat(firstLine(r.out)).type.replace('_', ' ')}, not a directory`,
        'read a file with ssh_read_file',
      );
    if (r.status !== 0) throw this.failure(r, path);
    const entries = parseList(r.out);
    return { entries: entries.slice(0, Math.max(0, max)), total: entries.length };
  }

  async read(path: string, range: { offset: number; length: number }, hashUpTo: number): Promise<FileRead> {
    const parts: Buffer[] = [];
    const hash = createHash('sha256');
    /** Bytes of data so far (the whole file's, or the range's). */
    let at = 0;
    const frame = newFrame();
    const stream = new ReadStream(frame, (chunk) => {
      const size = (stream.header as ParsedStat).size;
      if (size > hashUpTo) {
        // Only the range comes.
        parts.push(Buffer.from(chunk));
        at += chunk.length;
        return;
      }
      // The whole file comes: it is hashed, and the range is cut from the same bytes.
      hash.update(chunk);
      const from = Math.min(range.offset, size);
      const lo = Math.max(from, at);
      const hi = Math.min(from + range.length, size, at + chunk.length);
      if (lo < hi) parts.push(Buffer.from(chunk.subarray(lo - at, hi - at)));
      at += chunk.length;
    });
    const r = await this.exec(scriptCommand('read', frame, [path, String(range.offset), String(range.length), String(hashUpTo)]), {
      stdout: (chunk) => stream.push(chunk),
    });
    if (r.status === EXIT.notAFile) throw this.notAFile(path, stream.header);
    if (r.status !== 0) throw this.failure(r, path);
    const after = await stream.end();
    const before = stream.header as ParsedStat;
    const hashed = before.size <= hashUpTo;
    const expected = hashed ? before.size : Math.max(0, Math.min(range.length, before.size - range.offset));
    // A file that grew, shrank or was replaced while it was read gives no version's bytes.
    if (after?.version !== before.version || after.type !== 'file' || at !== expected) throw this.changedWhileRead(path);
    return { stat: plainStat(before), data: Buffer.concat(parts), sha256: hashed ? hash.digest('hex') : null };
  }

  write(path: string, data: Buffer, options: WriteOptions): Promise<WriteOutcome> {
    return this.writeWith(path, data.length, createHash('sha256').update(data).digest('hex'), options, data);
  }

  /** The write script with `size` bytes of sha256 `sha256` on stdin, given whole or fed. */
  private async writeWith(
    path: string,
    size: number,
    sha256: string,
    options: WriteOptions,
    stdin: Buffer | StdinFeed,
  ): Promise<WriteOutcome> {
    const args = [
      path,
      options.expectedSha256 ?? '',
      options.createOnly ? '1' : '0',
      (options.mode ?? 0o644).toString(8),
      String(size),
      sha256,
      shortName(posix.basename(path)),
    ];
    const r = await this.script('write', path, args, stdin);
    switch (r.status) {
      case 0: {
        const { after, before, hashedBy } = parseWrite(r.out);
        return {
          before: before ? { sha256: before.sha256, ...versionOf(before.stat) } : null,
          after: { sha256, ...versionOf(after) },
          hashedBy,
        };
      }
      case EXIT.noDirectory:
        throw new SshgateError(
          'not_found',
          `the directory of ${path} does not exist on host "${this.alias}"`,
          'create it first, or check the path',
        );
      case EXIT.notAFile: {
        const stat = parseStat(firstLine(r.out));
        if (stat.type === 'symlink')
          throw new SshgateError(
            'not_a_file',
            `${path} on host "${this.alias}" is a symlink, and writes never follow a symlink`,
            'write to the path it resolves to',
          );
        throw this.notAFile(path, stat);
      }
      case EXIT.exists:
        throw new SshgateError('file_exists', `${path} already exists on host "${this.alias}"`, 'leave out create_only to replace it');
      case EXIT.sharedDirectory: {
        const dir = parseStat(firstLine(r.out));
        throw new SshgateError(
          'forbidden',
          `the directory of ${path} on host "${this.alias}" may be changed by another user than ${this.user} (owner uid ${dir.uid}, mode ${dir.mode.toString(8).padStart(4, '0')}): sshgate writes there as ${this.user} never, as sudoedit refuses to`,
          "whoever may rename the directory's entries could turn the write on another file; write as the directory's owner (become that user), or make the directory writable by its owner only",
        );
      }
      case EXIT.changed:
        throw this.changed(path, options.expectedSha256 ?? '', firstLine(r.out));
      case EXIT.short:
        if (typeof stdin === 'function')
          throw new SshgateError(
            'file_changed',
            `the bytes that reached ${path} on host "${this.alias}" are not the ones hashed before the transfer; nothing was written`,
            'the local file changed while it was sent (or something on the host cut stdin): transfer it again once it is quiet',
          );
        throw new SshgateError(
          'internal',
          `the temp file for ${path} on host "${this.alias}" did not receive the content whole; nothing was written`,
          'something on the host read or cut stdin before the script (a login script?); see the server log',
        );
      default:
        throw this.failure(r, path);
    }
  }

  /**
   * The read script over the range from `offset` to the end, streamed into `sink`: the channel
   * waits while the sink does. At most maxBytes + 1 bytes are asked for, so that a file growing
   * without end is found too large rather than read for ever.
   */
  async download(
    path: string,
    sink: (chunk: Buffer) => Promise<void>,
    options: TransferOptions,
  ): Promise<{ size: number; sha256: string }> {
    const offset = options.offset ?? 0;
    if (offset > 0 && !options.prefix)
      throw new SshgateError('internal', 'an elevated download resumed without the hash of what it has', 'see the server log');
    const hash = options.prefix ? options.prefix.copy() : createHash('sha256');
    let at = offset;
    // The channel's packets (32 KiB) are gathered into larger writes: a pause per packet halves the speed.
    let batch: Buffer[] = [];
    let batched = 0;
    const flush = () => {
      const data = Buffer.concat(batch, batched);
      batch = [];
      batched = 0;
      return sink(data);
    };
    const frame = newFrame();
    const stream = new ReadStream(frame, (chunk) => {
      const header = stream.header as ParsedStat;
      if (at + chunk.length > options.maxBytes) throw fileTooLarge(this.alias, path, at + chunk.length, options.maxBytes);
      hash.update(chunk);
      at += chunk.length;
      options.onProgress?.(at, header.size);
      batch.push(chunk);
      batched += chunk.length;
      return batched >= SINK_BATCH ? flush() : undefined;
    });
    // A HASH_UP_TO of -1: always the range only, however small the file.
    const args = [path, String(offset), String(Math.max(0, options.maxBytes - offset + 1)), '-1'];
    const r = await this.exec(scriptCommand('read', frame, args), { stdout: (chunk) => stream.push(chunk) });
    if (r.status === EXIT.notAFile) throw this.notAFile(path, stream.header);
    if (r.status !== 0) throw this.failure(r, path);
    const after = await stream.end();
    if (batched > 0) await flush();
    const before = stream.header as ParsedStat;
    if (after?.version !== before.version || after.type !== 'file' || at !== before.size) throw this.changedWhileRead(path);
    return { size: at, sha256: hash.digest('hex') };
  }

  /**
   * The write script, its content streamed on stdin from `source`. The script needs the sha256
   * before the first byte (it checks the temp file against it before the rename): the caller
   * gives it as `options.sha256`, having hashed its copy. Not resumable: the temp file is the
   * script's own, removed on every way out, so `offset` must be 0. `options.verify` is not called:
   * the login user may not read the temp file, and the script's own check is the host's word.
   */
  async upload(path: string, source: AsyncIterable<Buffer>, size: number, options: TransferOptions & WriteOptions): Promise<WriteOutcome> {
    if ((options.offset ?? 0) !== 0 || options.sha256 === undefined)
      throw new SshgateError('internal', 'an elevated upload needs its sha256 first and cannot resume', 'see the server log');
    if (size > options.maxBytes) throw fileTooLarge(this.alias, path, size, options.maxBytes);
    // Nothing to stream: stdin is simply closed, and an empty write is judged as one.
    if (size === 0) return this.writeWith(path, 0, options.sha256, options, Buffer.alloc(0));
    let sent = 0;
    let feedError: unknown;
    const feed: StdinFeed = async (write) => {
      try {
        for await (const chunk of source) {
          // Stopped, or the script no longer reads (it refused before the copy): what it said is the answer.
          if (this.signal.aborted || !(await write(chunk))) return;
          sent += chunk.length;
          options.onProgress?.(sent, size);
        }
      } catch (err) {
        feedError = err;
        throw err;
      }
    };
    try {
      return await this.writeWith(path, size, options.sha256, options, feed);
    } catch (err) {
      // A local read that failed cut stdin short: that, not the script's "short", is the cause.
      throw feedError ?? err;
    }
  }

  /** The host's sha256 of a regular file, hashed there as the elevated user (openssl or sha256sum). */
  async hostSha256(path: string): Promise<{ sha256: string; by: HostHasher }> {
    const r = await this.script('hash', path, [path]);
    if (r.status === EXIT.notAFile) throw this.notAFile(path, parseStat(firstLine(r.out)));
    if (r.status !== 0) throw this.failure(r, path);
    return parseHash(firstLine(r.out));
  }

  private async statOf(path: string, follow: '-P' | '-L'): Promise<RemoteStat | null> {
    const r = await this.script('stat', path, [follow, path]);
    if (r.status !== 0) throw this.failure(r, path);
    const line = firstLine(r.out);
    if (line === '') return null;
    const stat = plainStat(parseStat(line));
    // Followed, a dangling symlink stays a symlink: nothing is at the end of it.
    return follow === '-L' && stat.type === 'symlink' ? null : stat;
  }

  /** Runs a script whose output is collected whole, and gives what followed the frame. */
  private async script(name: Exclude<ScriptName, 'read'>, path: string, args: string[], stdin?: Buffer | StdinFeed): Promise<Ran> {
    const frame = newFrame();
    const chunks: Buffer[] = [];
    let size = 0;
    const r = await this.exec(scriptCommand(name, frame, args), {
      stdout: (chunk) => {
        size += chunk.length;
        if (size <= MAX_COLLECTED) chunks.push(chunk);
      },
      ...(stdin ? { stdin } : {}),
    });
    if (size > MAX_COLLECTED)
      throw new SshgateError(
        'internal',
        `the ${name} of ${path} on host "${this.alias}" printed more than ${MAX_COLLECTED} bytes`,
        'list a smaller directory',
      );
    // A script that failed before printing its frame (a missing /bin/sh) has no output of its own.
    const all = Buffer.concat(chunks);
    const out = r.status === 0 || all.includes(Buffer.from(`${frame}\n`)) ? afterFrame(all, frame) : Buffer.alloc(0);
    return { ...r, out };
  }

  /** One elevated exec: its status and stderr; a stop (cancel, time limit) or a lost connection throws. */
  private async exec(
    command: string,
    io: { stdout: (chunk: Buffer) => void | Promise<void>; stdin?: Buffer | StdinFeed },
  ): Promise<{ status: number; stderr: string }> {
    if (this.signal.aborted) throw new FileOpStopped(this.alias, this.signal.reason);
    let stderr = Buffer.alloc(0);
    let fault: Error | undefined;
    const outcome = await this.run(command, {
      stdout: (chunk) => {
        // A parser's (or a sink's) refusal ends the parse, not the exec: it is thrown once the
        // exec is over, and what follows it is dropped.
        if (fault !== undefined) return undefined;
        const failed = (err: unknown) => void (fault ??= err instanceof Error ? err : new Error(String(err)));
        try {
          const held = io.stdout(chunk);
          return held instanceof Promise ? held.catch(failed) : undefined;
        } catch (err) {
          failed(err);
          return undefined;
        }
      },
      stderr: (chunk) => {
        if (stderr.length < MAX_STDERR) stderr = Buffer.concat([stderr, chunk]).subarray(0, MAX_STDERR);
      },
      ...(io.stdin ? { stdin: io.stdin } : {}),
    });
    // A script that ended well did its work, cancel or not: a write whose rename had begun ignores
    // TERM and finishes, and what was done is reported rather than "nothing changed".
    if (this.signal.aborted && outcome.exitCode !== 0) throw new FileOpStopped(this.alias, this.signal.reason);
    if (outcome.lost)
      throw new SshgateError(
        'lost',
        `the connection to host "${this.alias}" closed during the file operation (${outcome.lost})`,
        'read the file to see whether a write landed; its temp file is removed by the script when it ends',
      );
    if (fault !== undefined) throw fault;
    return { status: outcome.exitCode ?? -1, stderr: stderr.toString('utf8') };
  }

  /** The error for a script that failed: by its status, else by what the tool said (C locale). */
  private failure(r: { status: number; stderr: string }, path: string): SshgateError {
    const said = lastLine(r.stderr);
    if (r.status === EXIT.notFound || /No such file or directory|Not a directory/.test(said))
      return new SshgateError(
        'not_found',
        `${path} does not exist on host "${this.alias}"`,
        'check the path; list its directory with ssh_list_dir',
      );
    if (r.status === EXIT.moved)
      return new SshgateError(
        'file_changed',
        `a directory on the way to ${path} on host "${this.alias}" changed while it was being worked on (${said}): nothing was done`,
        'someone on the host swapped a directory for a symlink (or moved it); look at the host before trying again',
      );
    if (/Permission denied|Operation not permitted/.test(said))
      return new SshgateError(
        'permission_denied',
        `${this.user} may not do this to ${path} on host "${this.alias}" (${said})`,
        'the file system refused the user the call elevates to; check the owner and mode on the host',
      );
    if (r.status === EXIT.missingTool)
      return new SshgateError(
        'internal',
        `a tool of sshgate's file script is missing on host "${this.alias}" (${said})`,
        'elevated file operations need /bin/sh, GNU coreutils and GNU findutils on the host',
      );
    return new SshgateError(
      'internal',
      `the file operation on ${path} as ${this.user} failed on host "${this.alias}"${said ? ` (${said})` : ` (exit status ${r.status})`}`,
      'see what the host said; elevated file operations need GNU coreutils and findutils',
    );
  }

  private notAFile(path: string, stat: RemoteStat | undefined): SshgateError {
    return new SshgateError(
      'not_a_file',
      `${path} on host "${this.alias}" is a ${(stat?.type ?? 'unknown').replace('_', ' ')}, not a regular file`,
      'only regular files are read and written; devices, FIFOs and sockets never are',
    );
  }

  private changed(path: string, expected: string, actual: string): SshgateError {
    return new SshgateError(
      'file_changed',
      actual === '-' || actual === ''
        ? `${path} on host "${this.alias}" no longer exists (expected sha256 ${expected.slice(0, 12)}…)`
        : `${path} on host "${this.alias}" changed: its sha256 is ${actual.slice(0, 12)}…, not the expected ${expected.slice(0, 12)}…`,
      'read the file again and base the change on what it holds now',
    );
  }

  private changedWhileRead(path: string): SshgateError {
    return new SshgateError(
      'file_changed',
      `${path} on host "${this.alias}" changed while it was being read`,
      'something is writing to it; try again when it is quiet',
    );
  }
}

function versionOf(s: ParsedStat): { size: number; mode: number; uid: number; gid: number } {
  return { size: s.size, mode: s.mode, uid: s.uid, gid: s.gid };
}

/** A word the host cannot guess before the script starts: what frames the script's own output. */
function newFrame(): string {
  return `sshgate-frame-${randomBytes(12).toString('hex')}`;
}

function lastLine(text: string): string {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  // eslint-disable-next-line no-control-regex
  const line = (lines[lines.length - 1] ?? '').replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
