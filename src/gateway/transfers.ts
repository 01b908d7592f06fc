/**
 * ssh_put_file and ssh_get_file: files streamed between the transfer root and a host, never
 * through the model's context. Each is a file task (file-ops.ts judges the remote path as
 * ssh_write_file and ssh_read_file do, and runs it); unlike those, the call waits at most
 * wait_seconds and the transfer goes on, with its summary written to the task's output. Every
 * transfer is verified at both ends: sshgate hashes what it sends or receives, the host hashes the
 * file itself, and nothing is put in place unless the two agree.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { unlink } from 'node:fs/promises';
import { whenAborted } from '../abort.js';
import { DEFAULTS } from '../defaults.js';
import { SshgateError } from '../errors.js';
import type { RemoteFiles } from '../ssh/remote-files.js';
import { partialUploadPath } from '../ssh/sftp.js';
import { isFinal, type TaskManager } from '../tasks/task-manager.js';
import type * as F from './file-contract.js';
import { finished, resolveForWrite, tooLarge, type FileOps, type FileTaskRun, type StartedFileOp } from './file-ops.js';
import type { ProgressSink } from './gateway.js';
import { hostHashCommand, parseHostHash } from './host-hash.js';
import { batchedWriter, hashPrefix, localExists, readRange, type LocalPlace, type TransferRoot } from './transfer-local.js';

const PROGRESS_EVERY_MS = 250;
/** How long a call waits, whatever its wait_seconds, for the remote path to be resolved and judged. */
const RESOLVE_WAIT_MS = 10_000;

export interface TransfersDeps {
  ops: FileOps;
  tasks: TaskManager;
  /** None: serve was started without --transfer-root, and both tools refuse. */
  root: TransferRoot | undefined;
  /** `alias\0path` of the transfers running, shared by every caller: one per remote path at a time. */
  busy: Set<string>;
}

/** How far a running transfer has come, read by the wait loop for progress and the running result. */
interface Moving {
  bytes: number;
  size: number | null;
  resolved?: string;
}

type Summary = Omit<F.TransferResult, 'task_id'>;
type Judged = Parameters<FileOps['judgeResolved']>[1];

/** What a verified transfer moved, for its record and summary. */
interface Moved {
  path: string;
  resolved: string;
  /** The whole file's. */
  size: number;
  /** Where it resumed (0: from the start). */
  offset: number;
  /** sshgate's sha256 of the whole file, and the host's (the same, once verified). */
  sha256: string;
  hostSha256: string;
  verifiedBy: F.TransferResult['verified_by'];
  /** Epoch ms. */
  started: number;
}

export class Transfers {
  constructor(private readonly deps: TransfersDeps) {}

  async put(input: F.PutFileInput, signal?: AbortSignal, progress?: ProgressSink): Promise<F.TransferResult> {
    const root = this.root();
    const place = await root.place(input.local);
    const { handle, stat } = await root.openSource(place);
    const size = stat.size;
    const mode = input.mode !== undefined ? parseInt(input.mode, 8) : undefined;
    const elevated = input.become !== undefined;
    const moving: Moving = { bytes: 0, size };
    return this.transfer(
      'ssh_put_file',
      input,
      place,
      moving,
      signal,
      progress,
      handle,
      async (files, path, judged, run, id, resolvedTo) => {
        const started = Date.now();
        const resolved = await resolveForWrite(files, path);
        judged = this.deps.ops.judgeResolved('ssh_put_file', judged, ['write'], path, resolved);
        tooLarge(size, judged.maxBytes, resolved);
        resolvedTo(resolved);
        // The host's partial holds the bytes that arrived before the interruption; the local copy of
        // them is hashed here, so they do not cross the network again (the host's hash checks them).
        // Elevated, there is no partial to go on from, and the script needs the sha256 first.
        const kept = input.resume && !elevated ? await files.lstat(partialUploadPath(resolved)) : null;
        const offset = kept?.type === 'file' ? Math.min(kept.size, size) : 0;
        const prefix = createHash('sha256');
        await hashPrefix(handle, elevated ? size : offset, prefix, run.signal);
        const declared = elevated ? prefix.copy().digest('hex') : undefined;
        // Elevated, the file was hashed before it is read again to be sent: what is sent is hashed
        // too, to be the bytes declared. Otherwise the upload hashes what it sends, from the
        // prefix on: a second hash of the same chunks here would only cost a pass over the file.
        const resent = elevated ? createHash('sha256') : undefined;
        moving.bytes = offset;
        let verifiedBy: F.TransferResult['verified_by'];
        let localSha = '';
        const outcome = await files.upload(
          resolved,
          readRange(handle, offset, size, resent ? (c) => resent.update(c) : () => undefined),
          size,
          {
            offset,
            prefix,
            ...(declared !== undefined ? { sha256: declared } : {}),
            maxBytes: judged.maxBytes,
            onProgress: (b) => (moving.bytes = b),
            ...(input.expected_sha256 !== undefined ? { expectedSha256: input.expected_sha256 } : {}),
            ...(input.create_only ? { createOnly: true } : {}),
            ...(mode !== undefined ? { mode } : {}),
            // Before the rename: a file that does not hash the same at both ends is never put in place.
            verify: async (partial, sent) => {
              localSha = sent;
              verifiedBy = await hostVerifies(files, run, partial, sent);
            },
          },
        );
        if (resent && declared !== undefined) {
          // The script renamed only a temp file whose sha256 it computed equal to `declared`; what
          // was read to send it must have been those bytes too.
          localSha = resent.digest('hex');
          if (localSha !== declared) throw mismatch(resolved, declared, localSha, 'sent');
          if (outcome.after.sha256 !== declared) throw mismatch(resolved, declared, outcome.after.sha256, 'placed');
          verifiedBy = outcome.hashedBy;
        }
        const moved = { path, resolved, size, offset, sha256: localSha, hostSha256: outcome.after.sha256, verifiedBy, started };
        return this.succeeded('put', run, id(), judged, input, moved, {
          created: outcome.before === null,
          before: outcome.before ? { sha256: outcome.before.sha256, size: outcome.before.size, mode: octal(outcome.before.mode) } : null,
        });
      },
      size,
    );
  }

  async get(input: F.GetFileInput, signal?: AbortSignal, progress?: ProgressSink): Promise<F.TransferResult> {
    const root = this.root();
    const place = await root.place(input.local);
    refuseLocal(place, input.overwrite === true);
    const moving: Moving = { bytes: 0, size: null };
    return this.transfer(
      'ssh_get_file',
      input,
      place,
      moving,
      signal,
      progress,
      undefined,
      async (files, path, judged, run, id, resolvedTo) => {
        const started = Date.now();
        const resolved = await files.realpath(path);
        judged = this.deps.ops.judgeResolved('ssh_get_file', judged, ['read'], path, resolved);
        resolvedTo(resolved);
        const remote = await files.stat(resolved);
        if (remote) {
          tooLarge(remote.size, judged.maxBytes, resolved);
          moving.size = remote.size;
        }
        const part = await root.openPartial(place, input.resume === true);
        let keep = true;
        try {
          let offset = part.offset;
          let prefix = part.hash;
          // A partial longer than the file is of another version of it: begin again.
          if (remote && offset > remote.size) {
            await part.handle.truncate(0);
            offset = 0;
            prefix = createHash('sha256');
          }
          moving.bytes = offset;
          const out = batchedWriter(part.handle, offset);
          // The download hashes what it receives, from the partial's hash on, and every chunk it
          // hands over is written here: its sha256 is the partial's.
          const got = await files.download(resolved, async (chunk) => await out.write(chunk), {
            offset,
            prefix,
            maxBytes: judged.maxBytes,
            onProgress: (b, total) => ((moving.bytes = b), (moving.size = total)),
          });
          await out.flush();
          await part.handle.sync();
          const localSha = got.sha256;
          const verifiedBy = await hostVerifies(files, run, resolved, localSha).catch((err: unknown) => {
            if (err instanceof SshgateError && err.code === 'file_changed') keep = false;
            throw err;
          });
          await part.handle.close();
          await root.commit(place, part.partial, input.overwrite === true);
          keep = true;
          const moved = { path, resolved, size: got.size, offset, sha256: localSha, hostSha256: localSha, verifiedBy, started };
          return this.succeeded('get', run, id(), judged, input, moved);
        } catch (err) {
          await part.handle.close().catch(() => undefined);
          // A cancel leaves nothing behind; a time limit or a lost connection keeps the bytes for a resume.
          const cancelled = run.signal.aborted && run.signal.reason !== 'timed_out';
          if (cancelled || !keep) await unlink(part.partial).catch(() => undefined);
          throw err;
        }
      },
    );
  }

  /** The end of a verified transfer: its audit record, and its summary (the task's output too). */
  private succeeded(
    op: 'put' | 'get',
    run: FileTaskRun,
    taskId: string,
    judged: Judged,
    input: { alias: string; local: string; become?: string | undefined },
    moved: Moved,
    extra: Partial<Summary> = {},
  ): Summary {
    const { path, resolved, size, offset, verifiedBy } = moved;
    const common = { alias: input.alias, path, resolved_path: resolved, local: input.local };
    this.deps.ops.record(
      {
        op,
        ...common,
        bytes: size - offset,
        size,
        sha256: moved.sha256,
        host_sha256: moved.hostSha256,
        resumed_from: offset,
        verified_by: verifiedBy,
      },
      judged,
    );
    return finish(run, taskId, {
      ...common,
      ...becomeOf(input),
      state: 'succeeded',
      bytes: size,
      size,
      // Verified: the host's and sshgate's are the same.
      sha256: moved.sha256,
      ...(verifiedBy ? { verified_by: verifiedBy } : {}),
      resumed_from: offset,
      duration_ms: Date.now() - moved.started,
      ...extra,
    });
  }

  /**
   * Starts the transfer as a file task (one per remote path at a time), waits for it at most
   * wait_seconds with progress, and answers its result, or that it is still running.
   */
  private async transfer(
    tool: 'ssh_put_file' | 'ssh_get_file',
    input: {
      alias: string;
      path: string;
      local: string;
      become?: string | undefined;
      wait_seconds?: number | undefined;
      timeout_seconds?: number | undefined;
    },
    place: LocalPlace,
    moving: Moving,
    signal: AbortSignal | undefined,
    progress: ProgressSink | undefined,
    source: FileHandle | undefined,
    work: (
      files: RemoteFiles,
      path: string,
      judged: Judged,
      run: FileTaskRun,
      id: () => string,
      /** Called with the resolved remote path once judged: busy if another transfer has it. */
      resolvedTo: (resolved: string) => void,
    ) => Promise<Summary>,
    bytesIn?: number,
  ): Promise<F.TransferResult> {
    // One transfer at a time per remote path (as given here, as resolved in the work) and per
    // local file: two would share one partial file at that end.
    const held = new Set<string>();
    let started: StartedFileOp<Summary>;
    try {
      this.claim(held, `remote\0${input.alias}\0${input.path}`, `${input.path} on host "${input.alias}"`);
      this.claim(held, `local\0${place.path}`, `${place.local} in the transfer root`);
      const id = () => started.task.id;
      started = this.deps.ops.start(
        tool,
        input.alias,
        input.path,
        tool === 'ssh_put_file' ? ['write'] : ['read'],
        (f, p, j, r) =>
          work(f, p, j, r, id, (resolved) => {
            this.claim(held, `remote\0${input.alias}\0${resolved}`, `${resolved} on host "${input.alias}"`);
            moving.resolved = resolved;
          }),
        {
          ...(bytesIn !== undefined ? { bytesIn } : {}),
          ...(input.timeout_seconds !== undefined ? { maxSeconds: input.timeout_seconds } : {}),
          ...(input.become !== undefined ? { become: input.become } : {}),
        },
      );
    } catch (err) {
      this.release(held);
      await source?.close();
      throw err;
    }
    void started.task.done.then(async () => {
      this.release(held);
      await source?.close().catch(() => undefined);
    });
    const task = started.task;
    const stop = whenAborted(signal, () => this.deps.tasks.cancel(task.id));
    try {
      await this.follow(started, (input.wait_seconds ?? DEFAULTS.waitSeconds) * 1000, moving, progress);
    } finally {
      stop();
    }
    if (!isFinal(task.state))
      return {
        alias: input.alias,
        path: input.path,
        ...(moving.resolved !== undefined ? { resolved_path: moving.resolved } : {}),
        local: place.local,
        task_id: task.id,
        ...becomeOf(input),
        state: 'running',
        bytes: moving.bytes,
        size: moving.size,
      };
    // Done, even if a cancel or the time limit came as it finished: what was done is reported.
    if (started.result !== undefined) return finished(started);
    if (task.state === 'timed_out')
      throw new SshgateError(
        'timeout',
        `the transfer of ${input.path} ran out of its ${task.limits.max_seconds} s (max_seconds) after ${moving.bytes} bytes: nothing was put in place`,
        tool === 'ssh_put_file' && input.become !== undefined
          ? `an elevated put keeps no partial file: call ${tool} again, with a longer timeout_seconds or a higher max_seconds (task ${task.id})`
          : `its partial file is kept: call ${tool} again with resume: true to continue from there (task ${task.id})`,
      );
    if (task.state === 'cancelled')
      throw new SshgateError('cancelled', `the transfer of ${input.path} was cancelled: its partial files were removed`, `task ${task.id}`);
    return finished(started);
  }

  /** Waits up to `ms` for the task to end, sending the bytes moved as progress at most every 250 ms. */
  private async follow(started: StartedFileOp<Summary>, ms: number, moving: Moving, progress?: ProgressSink): Promise<void> {
    const task = started.task;
    const until = Date.now() + ms;
    let sent = -1;
    if (progress) {
      void progress({ progress: 0, message: `task_id ${task.id}` });
      sent = 0;
    }
    // The call answers at least once the remote path is resolved and judged (bounded): a denial or
    // a busy path there is the call's error, not a later task failure.
    const resolving = Date.now() + RESOLVE_WAIT_MS;
    while (!isFinal(task.state) && (Date.now() < until || (moving.resolved === undefined && Date.now() < resolving))) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        task.done,
        new Promise<void>((r) => (timer = setTimeout(r, Math.max(10, Math.min(PROGRESS_EVERY_MS, until - Date.now()))))),
      ]);
      clearTimeout(timer);
      if (progress && moving.bytes > sent && !isFinal(task.state)) {
        sent = moving.bytes;
        void progress({
          progress: sent,
          ...(moving.size !== null ? { total: moving.size } : {}),
          message: `${sent} of ${moving.size ?? '?'} bytes`,
        });
      }
    }
  }

  /** Takes `key` for this transfer, or refuses with busy when another one holds it. */
  private claim(held: Set<string>, key: string, what: string): void {
    if (this.deps.busy.has(key) && !held.has(key))
      throw new SshgateError(
        'busy',
        `a transfer to or from ${what} is already running`,
        'wait for it (ssh_list_tasks), or cancel it (ssh_cancel)',
      );
    this.deps.busy.add(key);
    held.add(key);
  }

  private release(held: Set<string>): void {
    for (const key of held) this.deps.busy.delete(key);
    held.clear();
  }

  private root(): TransferRoot {
    if (this.deps.root) return this.deps.root;
    throw new SshgateError(
      'invalid_config',
      'this server has no transfer root, so ssh_put_file and ssh_get_file are off',
      'start sshgate with --transfer-root DIR (or SSHGATE_TRANSFER_ROOT): a directory owned by its user, mode 0700',
    );
  }
}

/**
 * The host's own sha256 of `path`: a fixed command (host-hash.ts: `openssl dgst`, else
 * `sha256sum`), run as sshgate's own step (not judged by the command rules: it reads one file the
 * files: rules just allowed, and the caller chooses nothing in it but that path); over SFTP when
 * the host has neither.
 */
async function hostVerifies(
  files: RemoteFiles,
  run: FileTaskRun,
  path: string,
  expected: string,
): Promise<F.TransferResult['verified_by']> {
  if (files.hostSha256) {
    // Elevated: the file may be readable by that user only, so it is hashed as that user.
    const actual = await files.hostSha256(path);
    if (actual.sha256 !== expected) throw mismatch(path, expected, actual.sha256, 'host');
    return actual.by;
  }
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const r = await run.pool.exec(run.target, hostHashCommand(path), {
    signal: run.signal,
    deadline: run.deadline,
    stdout: (d) => void out.push(d),
    stderr: (d) => void err.push(d),
  });
  if (run.signal.aborted) throw new SshgateError('timeout', 'the transfer was stopped while the host verified it', 'start it again');
  let actual: string | undefined;
  let by: F.TransferResult['verified_by'];
  if (r.exitCode === 127) {
    by = 'sftp';
    actual = (await files.read(path, { offset: 0, length: 0 }, Number.MAX_SAFE_INTEGER)).sha256 ?? undefined;
  } else if (r.exitCode === 0) {
    const answer = parseHostHash(Buffer.concat(out).toString('utf8'));
    actual = answer?.sha256;
    by = answer?.by;
  }
  if (!actual)
    throw new SshgateError(
      'internal',
      `the host could not hash ${path}: openssl and sha256sum ended ${r.exitCode ?? r.signal ?? 'without a status'} (${Buffer.concat(err).toString('utf8').trim().slice(0, 200)})`,
      'nothing was put in place (a get keeps its local partial for a resume); check the file on the host',
    );
  if (actual !== expected) throw mismatch(path, expected, actual, 'host');
  return by;
}

/**
 * A file whose hashes differ from sshgate's: the host's before the rename (`host`: nothing was put
 * in place), or, after an elevated put's script renamed a temp file that hashed to what sshgate
 * declared, the bytes read again to be sent (`sent`) or the file in place (`placed`).
 */
function mismatch(path: string, local: string, other: string, what: 'host' | 'sent' | 'placed'): SshgateError {
  const side = { host: 'the host computed', sent: 'of the bytes sent', placed: 'of the file now in place' }[what];
  const outcome = what === 'host' ? 'nothing was put in place' : 'the file was put in place; check it';
  return new SshgateError(
    'file_changed',
    `${path}: the sha256 ${side} (${other.slice(0, 12)}…) differs from sshgate's (${local.slice(0, 12)}…): ${outcome}`,
    'something changed the file during the transfer; transfer it again from the start (without resume)',
  );
}

/** A download's local target: a regular file may be replaced only with overwrite; anything else never. */
function refuseLocal(place: LocalPlace, overwrite: boolean): void {
  if (!place.existing) return;
  if (!place.existing.isFile())
    throw new SshgateError('not_a_file', `${place.local} in the transfer root is not a regular file`, 'choose another local name');
  if (!overwrite) throw localExists(place.local);
}

/** The summary is the task's output too: ssh_get_task_output answers it after the call returned running. */
function finish(run: FileTaskRun, taskId: string, summary: Summary): Summary {
  run.stdout(Buffer.from(`${JSON.stringify({ ...summary, task_id: taskId })}\n`));
  return summary;
}

function becomeOf(input: { become?: string | undefined }): { become?: string } {
  return input.become !== undefined ? { become: input.become } : {};
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}
