/**
 * The file tools' requests and results (issue 17): read, list, write and edit files on a host over
 * SFTP, each path judged by the policy's `files:` rules. Kept apart from tool-contract.ts, which
 * is about commands and tasks.
 */
import { z } from 'zod';
import { Alias, BecomeUser } from '../config/file-formats.js';
import { MAX_READ_BYTES } from './budget.js';

const Path = z
  .string()
  .min(1)
  .max(4096)
  .describe(
    'an absolute path on the host, spelt plainly: no "..", ".", "//" or trailing "/" (refused, not tidied); symlinks are resolved on the host and both the path given and the path it resolves to must be allowed by the policy',
  );
const Sha256 = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'a sha256 is 64 lowercase hex digits')
  .describe('sha256 (64 lowercase hex digits) of the whole file as it was read');
const Mode = z
  .string()
  .regex(/^0?[0-7]{3}$/, 'a mode is three octal digits of permission bits, such as "0644" or "640"; set-id and sticky bits are refused')
  .describe('permission bits in octal, as "0644" (set-id and sticky bits are refused)');
const Encoding = z.enum(['utf8', 'base64']);
const Become = BecomeUser.describe(
  'do it as this user (sudo, or doas, on the host), e.g. "root": for files the login user may not touch; only where a files: rule with become: naming this user allows the path (ssh_describe_host lists them). Runs sshgate\'s own fixed script as that user, never a shell of the caller\'s',
);

const Version = z.object({ sha256: z.string(), size: z.number(), mode: z.string() });
export type FileVersionView = z.infer<typeof Version>;

const FileIdentity = {
  alias: z.string(),
  path: z.string().describe('the path as given'),
  resolved_path: z.string().describe('the path it resolved to on the host (symlinks followed): what the policy judged'),
  task_id: z.string().describe('the task the operation ran as (ssh_get_task_status, the audit records)'),
  become: z.string().optional().describe('the user it was done as (become), when it was elevated'),
};

// ------------------------------------------------------------------ read, list

export const ReadFileInput = z.strictObject({
  alias: Alias,
  path: Path,
  become: Become.optional(),
  offset: z.int().min(0).max(Number.MAX_SAFE_INTEGER).optional().describe('the first byte to return (default 0)'),
  max_bytes: z
    .int()
    .min(1)
    .max(MAX_READ_BYTES)
    .optional()
    .describe(`bytes to return at most (default 65536, at most ${MAX_READ_BYTES}); fewer when the text would not fit a message`),
  encoding: z
    .enum(['auto', 'utf8', 'base64'])
    .optional()
    .describe('auto (default): utf8 when the bytes are valid UTF-8 without NUL, else base64; utf8 refuses bytes that are not'),
});
export const ReadFileResult = z.object({
  ...FileIdentity,
  offset: z.number(),
  bytes: z.number().describe('bytes returned; read on from offset + bytes'),
  eof: z.boolean().describe('the range reached the end of the file'),
  encoding: Encoding,
  content: z.string(),
  size: z.number().describe('the whole file, in bytes'),
  mode: z.string(),
  uid: z.number(),
  gid: z.number(),
  mtime: z.string().describe('last modified (ISO 8601)'),
  sha256: z
    .string()
    .nullable()
    .describe('of the whole file, for expected_sha256 of a later write or edit; left out when the file is over max_file_bytes'),
  range_sha256: z.string().describe('of the bytes returned'),
});

export const ListDirInput = z.strictObject({
  alias: Alias,
  path: Path,
  become: Become.optional(),
  max_entries: z.int().min(1).max(5000).optional().describe('entries to return at most (default 200), by name'),
});
export const ListDirResult = z.object({
  ...FileIdentity,
  entries: z.array(
    z.object({
      name: z.string(),
      type: z.enum(['file', 'directory', 'symlink', 'fifo', 'socket', 'char_device', 'block_device', 'unknown']),
      size: z.number(),
      mode: z.string(),
      mtime: z.string(),
    }),
  ),
  total: z.number().describe('entries shown or cut by max_entries (hidden ones not counted)'),
  truncated: z.boolean().describe('more entries than max_entries: only the first by name are shown'),
  hidden: z.number().describe('entries left out because a files: deny rule forbids reading them (their names are not shown)'),
});

// ------------------------------------------------------------------ write, edit

export const WriteFileInput = z.strictObject({
  alias: Alias,
  path: Path,
  become: Become.optional(),
  content: z.string().describe('the whole new content'),
  encoding: Encoding.optional().describe('how content is given: utf8 (default) or base64 for binary data'),
  expected_sha256: Sha256.optional().describe(
    'compare-and-swap: write only if the file is still the one read (its sha256 from ssh_read_file); refused with file_changed otherwise',
  ),
  create_only: z.boolean().optional().describe('write only if nothing exists at the path (file_exists otherwise)'),
  mode: Mode.optional().describe('mode of a new file (default "0644"); a replaced file keeps its mode'),
});
const WriteOutcome = {
  ...FileIdentity,
  created: z.boolean().describe('no file was there before'),
  before: Version.nullable().describe('the file replaced; left out when there was none'),
  after: Version.describe('the file as written'),
};
export const WriteFileResult = z.object(WriteOutcome);

export const EditFileInput = z.strictObject({
  alias: Alias,
  path: Path,
  become: Become.optional(),
  old: z.string().min(1).describe('the exact text to replace (whitespace and line ends included)'),
  new: z.string().describe('the text to put in its place'),
  occurrences: z
    .int()
    .min(1)
    .max(10_000)
    .optional()
    .describe(
      'how many times old occurs in the file (default 1): the edit is refused unless that is exactly the count, and all are replaced',
    ),
  expected_sha256: Sha256.optional().describe('compare-and-swap as in ssh_write_file: refuse unless the file is still this one'),
});
export const EditFileResult = z.object({
  ...WriteOutcome,
  replaced: z.number().describe('occurrences replaced'),
  diff: z.string().describe('the change as a unified diff (cut when long; the whole is in before/after hashes)'),
  diff_truncated: z.boolean(),
});

// ------------------------------------------------------------------ transfers

const Local = z
  .string()
  .min(1)
  .max(4096)
  .describe(
    'a path relative to the transfer root of the server (serve --transfer-root), spelt plainly: no "..", ".", "//", leading or trailing "/"; no symlink below the root is followed',
  );
const TransferWait = {
  resume: z
    .boolean()
    .optional()
    .describe(
      'continue an interrupted transfer (a time limit, a lost connection) from its partial file; without it a stale partial is replaced. An elevated put (become) always starts over: its temp file is removed when it stops',
    ),
  wait_seconds: z
    .number()
    .min(0)
    .max(600)
    .optional()
    .describe('how long to wait before returning a still-running transfer (default 50); it goes on, and its summary is its task output'),
  timeout_seconds: z.int().min(1).max(86_400).optional().describe('shortens the policy max_seconds, never extends it'),
};

export const PutFileInput = z.strictObject({
  alias: Alias,
  local: Local.describe('the file to send, relative to the transfer root (no symlinks followed)'),
  path: Path,
  become: Become.optional(),
  ...TransferWait,
  expected_sha256: Sha256.optional().describe('compare-and-swap as in ssh_write_file: replace the file only if it is still this one'),
  create_only: z.boolean().optional().describe('write only if nothing exists at the path (file_exists otherwise)'),
  mode: Mode.optional().describe('mode of a new file (default "0644"); a replaced file keeps its mode'),
});
export const GetFileInput = z.strictObject({
  alias: Alias,
  path: Path,
  local: Local.describe('where to write the file, relative to the transfer root; its directory must exist there'),
  become: Become.optional(),
  ...TransferWait,
  overwrite: z.boolean().optional().describe('replace an existing local file (file_exists otherwise)'),
});
export const TransferResult = z.object({
  alias: z.string(),
  path: z.string().describe('the path as given'),
  resolved_path: FileIdentity.resolved_path.optional(),
  local: z.string().describe('the local path, relative to the transfer root'),
  task_id: FileIdentity.task_id,
  become: FileIdentity.become,
  state: z
    .enum(['succeeded', 'running'])
    .describe('running: still moving after wait_seconds; ssh_get_task_output gives its summary when done'),
  bytes: z.number().describe('bytes in place so far (the resumed part included)'),
  size: z.number().nullable().describe('the whole file, in bytes; left out while not yet known'),
  sha256: z.string().optional().describe('of the whole file, computed by sshgate and by the host, which agreed'),
  verified_by: z
    .enum(['openssl', 'sha256sum', 'sftp'])
    .optional()
    .describe("how the host's side was hashed: its openssl, its sha256sum, or (with neither) sshgate reading the file back over SFTP"),
  resumed_from: z.number().optional().describe('the offset the transfer continued from (0: from the start)'),
  duration_ms: z.number().optional(),
  created: z.boolean().optional().describe('put: no file was at the path before'),
  before: Version.nullable().optional().describe('put: the file replaced; left out when there was none'),
});

export type ReadFileInput = z.infer<typeof ReadFileInput>;
export type ReadFileResult = z.infer<typeof ReadFileResult>;
export type ListDirInput = z.infer<typeof ListDirInput>;
export type ListDirResult = z.infer<typeof ListDirResult>;
export type WriteFileInput = z.infer<typeof WriteFileInput>;
export type WriteFileResult = z.infer<typeof WriteFileResult>;
export type EditFileInput = z.infer<typeof EditFileInput>;
export type EditFileResult = z.infer<typeof EditFileResult>;
export type PutFileInput = z.infer<typeof PutFileInput>;
export type GetFileInput = z.infer<typeof GetFileInput>;
export type TransferResult = z.infer<typeof TransferResult>;
