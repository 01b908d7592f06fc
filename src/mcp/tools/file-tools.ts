/** The file tools: read, list, write, edit and transfer files on a host over SFTP, under the policy's files: rules. */
import type { Gateway } from '../../gateway/gateway.js';
import {
  EditFileInput,
  EditFileResult,
  GetFileInput,
  PutFileInput,
  TransferResult,
  ListDirInput,
  ListDirResult,
  ReadFileInput,
  ReadFileResult,
  WriteFileInput,
  WriteFileResult,
} from '../../gateway/file-contract.js';
import { progressSink } from '../progress.js';
import type { ToolRegistry } from '../registry.js';

const JUDGED =
  'The policy files: rules judge the path as given and the path it resolves to on the host (symlinks followed); ' +
  '"..", ".", "//" and a trailing "/" are refused, not tidied. ' +
  'With become (e.g. "root") it is done as that user through sudo, by a fixed sshgate script, where a files: rule with become: naming the user allows it.';

export function registerFileTools(tools: ToolRegistry, gateway: Gateway): void {
  tools.register({
    name: 'ssh_read_file',
    title: 'Read a file on a host',
    description:
      'Read a file on one host over SFTP, by byte range (offset, max_bytes): text as utf8, other bytes as base64. ' +
      'Returns size, mode, owner, mtime and the sha256 of the whole file (give it as expected_sha256 to a later ssh_write_file or ssh_edit_file). ' +
      'Devices, FIFOs and sockets are refused. ' +
      JUDGED,
    input: ReadFileInput,
    output: ReadFileResult,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    handler: (input, ctx) => gateway.files().read(input, ctx.mcpReq.signal),
  });
  tools.register({
    name: 'ssh_list_dir',
    title: 'List a directory on a host',
    description:
      'List the entries of a directory on one host over SFTP (name, type, size, mode, mtime; symlinks shown as such), sorted by name, at most max_entries. ' +
      'Listing needs a files: read rule matching the directory itself. ' +
      JUDGED,
    input: ListDirInput,
    output: ListDirResult,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    handler: (input, ctx) => gateway.files().list(input, ctx.mcpReq.signal),
  });
  tools.register({
    name: 'ssh_write_file',
    title: 'Write a file on a host',
    description:
      'Write a whole file on one host over SFTP, atomically: a temp file in the same directory, fsync, rename; a replaced file keeps its mode and owner. ' +
      'expected_sha256 (from ssh_read_file) makes it a compare-and-swap: refused with file_changed if the file changed since it was read. ' +
      'create_only refuses if anything exists at the path. Never follows a symlink at the path. Sizes are bounded by the policy (max_file_bytes). ' +
      JUDGED,
    input: WriteFileInput,
    output: WriteFileResult,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    handler: (input, ctx) => gateway.files().write(input, ctx.mcpReq.signal),
  });
  tools.register({
    name: 'ssh_edit_file',
    title: 'Edit a text file on a host',
    description:
      'Replace exact text in a text file on one host: old must occur exactly occurrences times (default 1), and all of them are replaced. ' +
      'Applied to the current content under compare-and-swap (refused if the file changes meanwhile; expected_sha256 too), written atomically like ssh_write_file; ' +
      'returns a unified diff of the change, so a file never has to be sent whole. Needs files: read and write rules for the path. ' +
      JUDGED,
    input: EditFileInput,
    output: EditFileResult,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    handler: (input, ctx) => gateway.files().edit(input, ctx.mcpReq.signal),
  });
  const TRANSFER =
    'Streams between the transfer root of the server (serve --transfer-root; local is relative to it, no symlinks followed) and the host, never through this conversation. ' +
    'A task: waits at most wait_seconds (default 50), then returns state running with bytes and size, and the transfer goes on (ssh_get_task_status, ssh_cancel; ssh_get_task_output gives the summary when done). ' +
    'With a progress token, progress is bytes of size. Verified at both ends: sshgate and the host each compute the sha256 and must agree before the file is put in place. ' +
    'resume: true continues a transfer a time limit or a lost connection interrupted; a cancel removes the partial files. Sizes are bounded by max_file_bytes. ';
  tools.register({
    name: 'ssh_put_file',
    title: 'Upload a file to a host',
    description:
      'Upload a file from the transfer root to one host, written as ssh_write_file writes (a partial file beside it, fsync, rename; expected_sha256, create_only, mode). ' +
      TRANSFER +
      JUDGED,
    input: PutFileInput,
    output: TransferResult,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    handler: (input, ctx) => gateway.transfers().put(input, ctx.mcpReq.signal, progressSink(ctx)),
  });
  tools.register({
    name: 'ssh_get_file',
    title: 'Download a file from a host',
    description:
      'Download a file from one host into the transfer root (local; its directory must exist there; an existing file only with overwrite). ' +
      TRANSFER +
      JUDGED,
    input: GetFileInput,
    output: TransferResult,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    handler: (input, ctx) => gateway.transfers().get(input, ctx.mcpReq.signal, progressSink(ctx)),
  });
}
