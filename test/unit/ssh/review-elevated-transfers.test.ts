/**
 * Review 18 (adversarial) of elevated transfers: the fixed write script, run by this machine's own
 * /bin/sh (no sudo, no sshd), as the unit tests of elevated-files.test.ts run it.
 *
 * 1. The temp file of an elevated write or put is swapped for a symlink after the script checked
 *    it (fixed). The write script pins the judged directory (cd -P), but
 *    the temp file inside it is a name in that directory: whoever may write the directory (the
 *    app user owning /srv/app/conf, the layout of review 17b) may rename it. The script checks
 *    the temp's sha256 (dd iflag=nofollow) and its size (`find -P`, whose type it never checks),
 *    then runs `chown -- "+UID:+GID" "$tmp"` and `chmod -- MODE "$tmp"`, which both FOLLOW a
 *    symlink. A watcher that swaps the temp for a symlink as soon as the script's hash closed it
 *    (inotify IN_CLOSE_NOWRITE: no guessing at timing) makes root chown and chmod any file of
 *    the host: to the owner and mode of the replaced file, which the directory's owner chose
 *    (its own file, mode 0666). With /etc/passwd as the victim that is root. The put then reports
 *    success. An elevated put streams for as long as the file takes, and the window is the same
 *    at its end; the watcher needs no timing at all.
 *    Fix: never name the temp by a path in a directory another user may write: make a private
 *    directory (mktemp -d, 0700, the elevated user's) in the target directory, cd -P into it and
 *    work on ./file (chown/chmod there are safe), then mv it to ../NAME; or refuse, as sudoedit
 *    does, a target directory writable by anyone but the elevated user. At least check the type
 *    in the size check (`f `) and use `chown -h`.
 *
 * 2. A put whose bytes are cut short by the local side (the feed stops early, e.g. the local file
 *    was truncated during the stream) is reported as `internal` with the hint "something on the
 *    host read or cut stdin before the script (a login script?)" (fixed):
 *    the feed knows it sent fewer bytes than the size it declared, and says nothing. Fix: in
 *    upload(), when `sent !== size` after the feed, throw file_changed ("the local file changed
 *    during the transfer"), as the SFTP path does.
 */
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElevatedFiles } from '../../../src/ssh/elevated-files.js';
import { localScriptRunner, startTempSwapper } from '../../support/script-runner.js';

let base: string;

function files(): ElevatedFiles {
  return new ElevatedFiles(localScriptRunner(base), 'local', 'root', new AbortController().signal);
}

function sha(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'sshgate-rv18-'));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('the temp file of an elevated put, in a directory another user may write', () => {
  // Fixed: the write script refuses a directory another user may change (sharedDirectory).
  it('is never a way to chown or chmod another file: a swap of the temp for a symlink changes nothing outside', async () => {
    const dir = join(base, 'app-conf');
    mkdirSync(dir);
    // The victim: root's, 0600 (think /etc/passwd). The symlink's text is padded with slashes to the
    // size of the content, so that even the script's size check (find -P, type unchecked) passes.
    const victim = join(base, 'victim');
    writeFileSync(victim, 'root:x:0:0:root:/root:/bin/bash\n', { mode: 0o600 });
    chownSync(victim, 0, 0);
    const content = Buffer.from(`app setting = 1\n${'#'.repeat(200)}\n`);
    const text = `${base}/${'/'.repeat(content.length - base.length - 1 - 'victim'.length)}victim`;
    expect(text.length).toBe(content.length);
    // The file the put replaces: the directory owner's own, mode 0666.
    const target = join(dir, 'app.conf');
    writeFileSync(target, 'old\n');
    chownSync(target, 4242, 4242);
    chmodSync(target, 0o666);
    // The directory is the other user's, as /srv/app/conf is the app user's (the watcher stands for
    // that user; here it runs as root, which could do anything anyway).
    chownSync(dir, 4242, 4242);

    const watcher = await startTempSwapper(dir, text);
    try {
      async function* source(): AsyncGenerator<Buffer> {
        yield await Promise.resolve(content);
      }
      // Refused before any temp file exists: sshgate writes as root only where no one else may
      // change the directory, as sudoedit.
      await expect(files().upload(target, source(), content.length, { sha256: sha(content), maxBytes: 1 << 20 })).rejects.toMatchObject({
        code: 'forbidden',
        message: expect.stringMatching(/may be changed by another user than root \(owner uid 4242, mode 0755\)/) as unknown,
      });
    } finally {
      watcher.kill();
    }
    const st = statSync(victim);
    expect({ uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 }).toEqual({ uid: 0, gid: 0, mode: 0o600 });
    // And nothing but a regular file is put in place.
    expect(lstatSync(target).isSymbolicLink()).toBe(false);
  }, 30_000);
});

describe('an elevated upload cut short by the local side', () => {
  // Fixed: a streamed write whose bytes are short is file_changed.
  it('says that the local file changed, not that something on the host cut stdin', async () => {
    const p = join(base, 'cut.bin');
    const whole = Buffer.alloc(200_000, 7);
    async function* truncated(): AsyncGenerator<Buffer> {
      // The local file was truncated after its hash: the read ends early, without an error.
      yield await Promise.resolve(whole.subarray(0, 150_000));
    }
    const err = await files()
      .upload(p, truncated(), whole.length, { sha256: sha(whole), maxBytes: 1 << 20 })
      .then(
        () => undefined,
        (e: unknown) => e as { code: string; message: string; hint?: string },
      );
    expect(err).toBeDefined();
    expect(err?.code).toBe('file_changed');
    expect(err?.hint ?? '').not.toMatch(/login script/);
  });
});
