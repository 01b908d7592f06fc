/**
 * The fixed POSIX sh scripts that do file operations as another user (elevated-files.ts runs them
 * through sudo or doas), and the parsers of what they print. They are constants, reviewed like the
 * rest of the code: a caller's values (paths, hashes, modes) reach them only as positional
 * parameters, each one a single-quoted word (shQuote), never spliced into the script's text:
 *
 *   exec /bin/sh -c '<PRELUDE + script>' sshgate-files '<frame>' '<arg>' …
 *
 * What they need on the host: GNU coreutils (realpath -z, dd iflag=nofollow, `chown +UID`,
 * mktemp, sha256sum, sync) and GNU findutils (find -printf), as on Debian, Ubuntu, RHEL and their
 * kin; openssl, where there is one that works, hashes in sha256sum's place. Messages are read in
 * the C locale (LC_ALL=C), so that a failure can be told apart by what the tool said
 * (elevatedFailure).
 *
 * Output framing. stdout is the channel's raw bytes, and something may precede the script's own
 * output (a login script of the login user that prints). So each script first prints a frame — a
 * random word given as $1 — on a line of its own, and everything before it is dropped. A read then
 * prints the file's bytes with nothing escaped, followed by the frame once more and a stat line:
 * the trailer, found as the last occurrence of the frame, since nothing after it can contain it.
 */
import { SshgateError } from '../errors.js';
import type { DirEntry, HostHasher, RemoteStat, RemoteType } from './remote-files.js';
import { shQuote, SYSTEM_PATH } from './interpreter.js';

/** The sha256 of nothing: what a working `openssl dgst -sha256` answers for empty input. */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** The exit statuses the scripts choose; any other is a tool's or the shell's own. */
export const EXIT = {
  /** A tool failed; its message (C locale) is on stderr. */
  failed: 80,
  notFound: 81,
  /** Not a regular file (its stat line was printed), or a symlink at a write's path. */
  notAFile: 82,
  /** Compare-and-swap refused; the current sha256 (or `-`: no file) was printed. */
  changed: 83,
  exists: 84,
  /** A write's directory is missing or is not a directory. */
  noDirectory: 85,
  /** A listing of something that is not a directory (its stat line was printed). */
  notADirectory: 86,
  /** The temp file does not hold the bytes sent (stdin cut short). */
  short: 87,
  /** The directory judged is no longer where its path leads (a directory on the way was swapped). */
  moved: 88,
  /** A write's directory may be changed by another user (its stat line was printed). */
  sharedDirectory: 89,
  /** A command the script needs is missing on the host (the shell's own status). */
  missingTool: 127,
} as const;

/**
 * One stat, as `find -printf` prints it: type letter, size, permission bits (octal), uid, gid,
 * mtime (seconds with a fraction), inode and device. Space-separated: none of them holds a space.
 */
const STAT = '%y %s %m %U %G %T@ %i %D';

/**
 * Set up for every script: C messages, the system's tools only (`path`), no pathname expansion
 * (an unquoted word is split, never matched against the files of a directory someone else may
 * fill), none of the variables that make openssl load a configuration or module of the caller's
 * choosing (sudo's env_keep, SETENV or doas keepenv could carry them over from the login user),
 * the frame first.
 */
const prelude = (path: string) => `LC_ALL=C; export LC_ALL
PATH=${path}; export PATH
set -f
unset OPENSSL_CONF OPENSSL_CONF_INCLUDE OPENSSL_MODULES OPENSSL_ENGINES
hashed_by=
f=$1; shift
printf '%s\\n' "$f"
# look -P|-L PATH: its stat line in $st, empty when nothing is there; any other failure ends the script.
look() {
  st=$(find "$1" "$2" -maxdepth 0 -printf '${STAT}' 2>&1) && return 0
  case $st in *'No such file or directory'|*'Not a directory') st=; return 0;; esac
  printf '%s\\n' "$st" >&2; exit ${EXIT.failed}
}
# pin DIR: work from the judged directory itself, never from its path looked up again. cd there
# (physically), check it is the directory judged - a directory on the way swapped for a symlink
# since the path was resolved would land elsewhere - and from then on name files ./NAME: the
# working directory stays that directory whatever is swapped on the way later.
pin() {
  cd -P -- "$1" 2>/dev/null || exit ${EXIT.notFound}
  [ "$(pwd -P)" = "$1" ] || { printf 'the directory moved: %s is now %s\n' "$1" "$(pwd -P)" >&2; exit ${EXIT.moved}; }
}
# at PATH: pins PATH's directory; the last component, as ./NAME, in $here.
at() {
  d=\${1%/*}; [ -n "$d" ] || d=/
  pin "$d"; here=./\${1##*/}
}
# sha PATH: the sha256 of a regular file in $h, read never through a symlink nor blocking on a FIFO;
# dd's own status travels on fd 3, since a pipeline's status is only its last command's. Hashed by
# openssl where it gives the empty input's digest right (some three times as fast as sha256sum,
# as gateway/host-hash.ts measured), else by sha256sum: which, in $hashed_by. Asked once, since
# openssl could not give way to sha256sum in the middle of a stream.
sha() {
  [ -n "$hashed_by" ] || case $(openssl dgst -sha256 -r </dev/null 2>/dev/null) in
    '${EMPTY_SHA256} '*) hashed_by=openssl;;
    *) hashed_by=sha256sum;;
  esac
  h=$( { { dd if="$1" iflag=nofollow,nonblock bs=65536 status=none; echo "dd=$?" >&3; } |
    if [ "$hashed_by" = openssl ]; then openssl dgst -sha256 -r; else sha256sum; fi; } 3>&1 )
  case $h in *dd=0*) ;; *) exit ${EXIT.failed};; esac
  for w in $h; do case $w in *[!0-9a-f]*) ;; *) [ \${#w} -eq 64 ] && { h=$w; return 0; };; esac; done
  exit ${EXIT.failed}
}
`;

/** realpath PATH: the canonical path, NUL-terminated (a resolved name may hold a newline). */
const REALPATH = `realpath -e -z -- "$1" || exit ${EXIT.failed}`;

/** stat -P|-L PATH: the stat line, or an empty line when nothing is there. */
const STAT_ONE = `if [ "$2" = / ]; then pin /; look "$1" .; else at "$2"; look "$1" "$here"; fi; printf '%s\\n' "$st"`;

/** list DIR: `name NUL stat NUL` per entry, unsorted; the directory itself is never followed. */
const LIST = `if [ "$1" = / ]; then pin /; look -P .; else at "$1"; look -P "$here"; fi
[ -n "$st" ] || exit ${EXIT.notFound}
case $st in d\\ *) ;; *) printf '%s\\n' "$st"; exit ${EXIT.notADirectory};; esac
pin "$1"
find . -mindepth 1 -maxdepth 1 -printf '%f\\0${STAT}\\0' || exit ${EXIT.failed}`;

/**
 * read PATH OFFSET LENGTH HASH_UP_TO: the stat line; then the whole file when its size is at most
 * HASH_UP_TO (the caller hashes it and cuts the range from the same bytes), else the range only;
 * then the frame and the stat line again, which tells whether the file changed meanwhile.
 */
const READ = `at "$1"
look -P "$here"
[ -n "$st" ] || exit ${EXIT.notFound}
printf '%s\\n' "$st"
case $st in f\\ *) ;; *) exit ${EXIT.notAFile};; esac
p=$here off=$2 len=$3 max=$4
set -- $st
if [ "$2" -le "$max" ]; then
  dd if="$p" iflag=nofollow,nonblock bs=65536 status=none || exit ${EXIT.failed}
elif [ "$off" -lt "$2" ]; then
  dd if="$p" iflag=skip_bytes,count_bytes,nofollow,nonblock bs=65536 skip="$off" count="$len" status=none || exit ${EXIT.failed}
fi
printf '%s\\n' "$f"
look -P "$p"; printf '%s\\n' "$st"`;

/**
 * write PATH EXPECTED_SHA256|'' CREATE_ONLY(0|1) MODE SIZE SHA256 TEMP_NAME, the content on
 * stdin: a temp file beside PATH (mktemp: exclusive, mode 0600, named after TEMP_NAME, which a
 * long name is shortened to), filled, checked against SIZE and SHA256, given the replaced file's
 * owner and mode (else MODE), synced, then the target checked once more and the temp renamed
 * over it (`mv -T`), or linked to it for create_only (`ln -T`: never replaces). The trap removes
 * the temp file on every way out, TERM (a cancel) included — until the rename: from then on TERM
 * is ignored (by the tools started too), so that a write whose rename began is carried out and
 * reported, never left half-known; mv or ln ended by a KILL after their rename is recognised as
 * done. Prints the new file's stat line, the replaced one's (or `-`) and its sha256 (or `-`).
 * Refused in a directory another user may change (sharedDirectory), as sudoedit refuses it.
 */
const WRITE = `want=$2 excl=$3 mode=$4 size=$5 sum=$6 name=$7
tmp=
trap '[ -z "$tmp" ] || rm -f -- "$tmp"' EXIT
trap 'exit 143' HUP INT TERM PIPE
umask 077
d=\${1%/*}; [ -n "$d" ] || d=/
look -P "$d"
case $st in d\\ *) ;; *) exit ${EXIT.noDirectory};; esac
at "$1"; dst=$here dir=.
# Only in a directory no other user may change, as sudoedit: whoever may rename its entries could
# swap the temp file for a symlink between the checks and chown/chmod, and turn them on any file
# of the host. So the directory is this user's or root's, and writable by no one else unless it is
# sticky (then no one else may rename or remove an entry of this user's).
look -P .; set -- $st
me=$(id -u) || exit ${EXIT.failed}
m=$((0$3))
if { [ "$4" != "$me" ] && [ "$4" != 0 ]; } || { [ $((m & 18)) -ne 0 ] && [ $((m & 512)) -eq 0 ]; }; then
  printf '%s\n' "$st"; exit ${EXIT.sharedDirectory}
fi
# What is at the path: nothing, or a regular file (its stat in $old, its sha256 in $oldsum).
check() {
  look -P "$dst"; old=$st; oldsum=
  case $old in
    '') [ -z "$want" ] || { printf '%s\\n' -; exit ${EXIT.changed}; }; return 0;;
    f\\ *) ;;
    *) printf '%s\\n' "$old"; exit ${EXIT.notAFile};;
  esac
  [ "$excl" = 0 ] || exit ${EXIT.exists}
  sha "$dst"; oldsum=$h
  [ -z "$want" ] || [ "$h" = "$want" ] || { printf '%s\\n' "$h"; exit ${EXIT.changed}; }
}
check
tmp=$(mktemp -- "$dir/.$name.sshgate-XXXXXXXXXXXXXXXX.tmp") || exit ${EXIT.failed}
# In the background and waited for: sh runs a trap only between commands, and wait is one that a
# signal ends at once, so a cancel removes the temp file even while dd still waits for stdin. An
# asynchronous command's stdin is /dev/null unless redirected: fd 3 carries the script's. nocreat:
# a dd that opens only after the trap removed the temp file must not make it again.
exec 3<&0
dd of="$tmp" oflag=nofollow conv=nocreat bs=65536 status=none <&3 3<&- & wait $! || exit ${EXIT.failed}
exec 3<&-
sha "$tmp"; [ "$h" = "$sum" ] || exit ${EXIT.short}
look -P "$tmp"; set -- $st; [ "$1" = f ] && [ "$2" = "$size" ] || exit ${EXIT.short}
if [ -n "$old" ]; then
  set -- $old
  # Owner first (chown clears set-id bits), then the mode; a user who may not give the owner keeps
  # the group if it can. -h: never through a symlink, whatever is at the name by now.
  chown -h -- "+$4:+$5" "$tmp" 2>/dev/null || chown -h -- ":+$5" "$tmp" 2>/dev/null || :
  chmod -- "$3" "$tmp" || exit ${EXIT.failed}
else
  chmod -- "$mode" "$tmp" || exit ${EXIT.failed}
fi
# sync FILE fsyncs that file (coreutils 8.24 on); an older sync refuses the operand and syncs all.
sync -- "$tmp" 2>/dev/null || sync
look -P "$tmp"; new=$st
# As late as possible: the window for another writer is this check and the rename.
check
trap '' HUP INT TERM
if [ "$excl" = 1 ]; then
  ln -T -- "$tmp" "$dst" 2>/dev/null || [ "$dst" -ef "$tmp" ] || {
    look -P "$dst"; [ -z "$st" ] || exit ${EXIT.exists}
    ln -T -- "$tmp" "$dst" || exit ${EXIT.failed}
  }
  rm -f -- "$tmp"
else
  if ! mv -f -T -- "$tmp" "$dst"; then
    # mv ended after its rename (a KILL) when the temp name is gone: the file is in place.
    if [ -e "$tmp" ] || [ -L "$tmp" ]; then exit ${EXIT.failed}; fi
  fi
fi
tmp=
printf '%s\\n%s\\n%s\\n%s\\n' "$new" "\${old:--}" "\${oldsum:--}" "$hashed_by"`;

/** hash PATH: the sha256 of a regular file (never through a symlink at the last component), on a line. */
const HASH = `at "$1"
look -P "$here"
[ -n "$st" ] || exit ${EXIT.notFound}
case $st in f\\ *) ;; *) printf '%s\\n' "$st"; exit ${EXIT.notAFile};; esac
sha "$here"; printf '%s %s\\n' "$h" "$hashed_by"`;

export const SCRIPTS = { realpath: REALPATH, stat: STAT_ONE, list: LIST, read: READ, write: WRITE, hash: HASH } as const;
export type ScriptName = keyof typeof SCRIPTS;

/**
 * The command that runs one of the scripts with `args` as its positional parameters ($1 is the
 * frame). An argument with a NUL cannot be a word of sh: refused here, whatever called.
 */
export function scriptCommand(name: ScriptName, frame: string, args: readonly string[], systemPath = SYSTEM_PATH): string {
  const words = [frame, ...args];
  if (words.some((w) => w.includes('\0')))
    throw new SshgateError('invalid_input', 'a path or value holds a NUL byte', 'give it without one');
  return `exec /bin/sh -c ${shQuote(prelude(systemPath) + SCRIPTS[name])} sshgate-files ${words.map(shQuote).join(' ')}`;
}

// ------------------------------------------------------------------ parsing

/** What a stat line says, with what tells two versions of a file apart. */
export interface ParsedStat extends RemoteStat {
  /** mtime as printed (with its fraction), inode and device: equal lines mean the same version. */
  version: string;
}

const TYPES: Record<string, RemoteType> = {
  f: 'file',
  d: 'directory',
  l: 'symlink',
  p: 'fifo',
  s: 'socket',
  c: 'char_device',
  b: 'block_device',
};

const STAT_LINE = /^([a-zA-Z]) ([0-9]+) ([0-7]{1,6}) ([0-9]+) ([0-9]+) ([0-9]+(?:\.[0-9]+)?) ([0-9]+) ([0-9]+)$/;

/** A stat line of STAT; throws on anything else, since a script printed it and it must be exact. */
export function parseStat(line: string): ParsedStat {
  const m = STAT_LINE.exec(line);
  if (!m) throw unparsable(`a stat line: ${JSON.stringify(line.slice(0, 120))}`);
  const [, type, size, mode, uid, gid, mtime, inode, dev] = m as unknown as string[];
  return {
    type: TYPES[type as string] ?? 'unknown',
    size: Number(size),
    mode: parseInt(mode as string, 8) & 0o7777,
    uid: Number(uid),
    gid: Number(gid),
    // Whole seconds, as SFTP reports them, so that both paths show a file alike.
    mtime: Math.floor(Number(mtime)),
    version: `${size} ${mtime} ${inode} ${dev}`,
  };
}

/** The stat as the contract has it, without what tells versions apart. */
export function plainStat(s: ParsedStat): RemoteStat {
  return { type: s.type, size: s.size, mode: s.mode, uid: s.uid, gid: s.gid, mtime: s.mtime };
}

/** The script's own output: everything after the first frame line. */
export function afterFrame(out: Buffer, frame: string): Buffer {
  const line = Buffer.from(`${frame}\n`);
  const at = out.indexOf(line);
  if (at === -1) throw unparsable('the frame');
  return out.subarray(at + line.length);
}

/** The path realpath printed (NUL-terminated). */
export function parseRealpath(out: Buffer): string {
  const end = out.indexOf(0);
  if (end <= 0 || end !== out.length - 1) throw unparsable('a path');
  return out.subarray(0, end).toString('utf8');
}

/** `name NUL stat NUL` records, sorted by name as sftp.ts sorts a listing (JavaScript string order). */
export function parseList(out: Buffer): DirEntry[] {
  const entries: DirEntry[] = [];
  let at = 0;
  while (at < out.length) {
    const a = out.indexOf(0, at);
    const b = a === -1 ? -1 : out.indexOf(0, a + 1);
    if (b === -1) throw unparsable('a directory entry');
    const name = out.subarray(at, a).toString('utf8');
    entries.push({ name, stat: plainStat(parseStat(out.subarray(a + 1, b).toString('latin1'))) });
    at = b + 1;
  }
  return entries.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}

/**
 * The lines of the write script's success: the new file, the replaced one (or null) and its
 * sha256, and the tool that hashed them.
 */
export function parseWrite(out: Buffer): {
  after: ParsedStat;
  before: { stat: ParsedStat; sha256: string } | null;
  hashedBy: HostHasher;
} {
  const lines = out.toString('latin1').split('\n');
  if (lines.length !== 5 || lines[4] !== '') throw unparsable('the outcome of a write');
  const [after, old, oldSum, by] = lines as [string, string, string, string];
  const hashedBy = hasher(by);
  if (old === '-') return { after: parseStat(after), before: null, hashedBy };
  if (!/^[0-9a-f]{64}$/.test(oldSum)) throw unparsable(`a sha256: ${JSON.stringify(oldSum.slice(0, 80))}`);
  return { after: parseStat(after), before: { stat: parseStat(old), sha256: oldSum }, hashedBy };
}

/** The hash script's line: the sha256 and the tool that computed it. */
export function parseHash(line: string): { sha256: string; by: HostHasher } {
  const m = /^([0-9a-f]{64}) (.*)$/.exec(line);
  if (!m) throw unparsable(`a sha256: ${JSON.stringify(line.slice(0, 80))}`);
  return { sha256: m[1] as string, by: hasher(m[2] as string) };
}

function hasher(name: string): HostHasher {
  if (name === 'openssl' || name === 'sha256sum') return name;
  throw unparsable(`the tool that hashed: ${JSON.stringify(name.slice(0, 80))}`);
}

/** The first line of a script's output after the frame (a stat line, a sha256), or ''. */
export function firstLine(out: Buffer): string {
  const nl = out.indexOf(0x0a);
  return out.subarray(0, nl === -1 ? out.length : nl).toString('latin1');
}

/**
 * The read script's stdout, taken in as it arrives: the header stat, then the file's bytes (handed
 * to `onData` as they come, minus a tail that may be the trailer), then the frame and the stat
 * line again. Memory stays bounded whatever the file's size.
 */
export class ReadStream {
  header: ParsedStat | undefined;
  private head: Buffer | undefined = Buffer.alloc(0);
  private tail = Buffer.alloc(0);
  private readonly frame: Buffer;
  /** The longest trailer: the frame, its newline and a stat line (bounded numbers). */
  private readonly keep: number;

  constructor(
    frame: string,
    /** Takes the data; a promise it returns is handed back by push, for the caller to wait on. */
    private readonly onData: (chunk: Buffer) => void | Promise<void>,
  ) {
    this.frame = Buffer.from(`${frame}\n`);
    this.keep = this.frame.length + 256;
  }

  push(chunk: Buffer): void | Promise<void> {
    if (this.head) {
      // Before the data: the frame line and the header line, whole.
      const data = Buffer.concat([this.head, chunk]);
      const at = data.indexOf(this.frame);
      const nl = at === -1 ? -1 : data.indexOf(0x0a, at + this.frame.length);
      if (nl === -1) {
        if (data.length > 64 * 1024) throw unparsable('the frame');
        this.head = data;
        return undefined;
      }
      this.header = parseStat(data.subarray(at + this.frame.length, nl).toString('latin1'));
      this.head = undefined;
      chunk = data.subarray(nl + 1);
    }
    const data = this.tail.length > 0 ? Buffer.concat([this.tail, chunk]) : chunk;
    const pass = Math.max(0, data.length - this.keep);
    this.tail = Buffer.from(data.subarray(pass));
    return pass > 0 ? this.onData(data.subarray(0, pass)) : undefined;
  }

  /**
   * After the script ended well: the last bytes of data, and the stat line that followed them
   * (null when the file was gone by then).
   */
  async end(): Promise<ParsedStat | null> {
    const at = this.tail.lastIndexOf(this.frame);
    if (!this.header || at === -1) throw unparsable('the end of a read');
    if (at > 0) await this.onData(this.tail.subarray(0, at));
    const line = this.tail
      .subarray(at + this.frame.length)
      .toString('latin1')
      .replace(/\n$/, '');
    return line === '' ? null : parseStat(line);
  }
}

function unparsable(what: string): SshgateError {
  return new SshgateError(
    'internal',
    `could not read ${what} from sshgate's file script on the host`,
    'the elevated file operations need GNU coreutils and findutils on the host; see the server log',
  );
}
