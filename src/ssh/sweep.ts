/**
 * The second line of defence behind the channel signal. A child that leaves the command's process
 * group (setsid, a daemonising tool) escapes the signal OpenSSH delivers, and OpenSSH refuses
 * signal requests altogether in sessions without privilege separation (root logins). So every
 * command starts by printing its shell's pid, and a cancel also runs a fixed sweep on a second
 * channel: list the pid's descendants while the tree is intact, TERM them, KILL what is left after
 * the grace period.
 */

/** What the command is prefixed with; the first stdout line it prints is the pid, not output. */
export function withPidLine(command: string): string {
  return `echo $$; ${command}`;
}

/**
 * The sweep, in POSIX sh. It reads the process table from ps, or from /proc where ps is missing,
 * prints "listed" once it holds the list (the caller signals the group only then, so nothing is
 * reparented before it is seen), TERMs the list, and KILLs whatever is still there after the grace
 * period; it exits as soon as nothing of the list is left.
 */
export function sweepScript(pid: number, graceMs: number): string {
  if (!Number.isSafeInteger(pid) || pid <= 1) throw new RangeError(`not a pid: ${pid}`);
  const table =
    `{ ps -A -o pid= -o ppid= 2>/dev/null || ` +
    `for f in /proc/[0-9]*/stat; do s=$(cat "$f" 2>/dev/null) || continue; p=\${s%% *}; s=\${s##*) }; set -- $s; echo "$p $2"; done; }`;
  const descendants =
    `awk -v r=${pid} '{ kids[$2] = kids[$2] " " $1 } ` +
    `END { out = r; q = r; while (q != "") { n = split(q, a, " "); q = ""; ` +
    `for (i = 1; i <= n; i++) { m = split(kids[a[i]], b, " "); for (j = 1; j <= m; j++) { out = out " " b[j]; q = q " " b[j] } } } print out }'`;
  const rounds = Math.max(1, Math.ceil(graceMs / 100));
  // Waits for the listed processes to go, up to the grace period, and KILLs only what is left.
  // A zombie answers kill -0 but is gone for good; /proc tells them apart where it exists.
  const alive =
    `alive() { kill -0 $1 2>/dev/null || return 1; [ -r /proc/$1/stat ] || return 0; ` +
    `s=$(cat /proc/$1/stat 2>/dev/null) || return 1; s=\${s##*) }; [ "\${s%% *}" != Z ]; }`;
  const settle =
    `i=0; while [ $i -lt ${rounds} ]; do a=; for p in $l; do alive $p && a="$a $p"; done; ` +
    `[ -z "$a" ] && exit 0; sleep 0.1; i=$((i+1)); done`;
  return [alive, `l=$(${table} | ${descendants})`, 'echo listed', 'kill -TERM $l 2>/dev/null', settle, 'kill -KILL $a 2>/dev/null', 'exit 0'].join('; ');
}

/**
 * Takes the pid line off the front of a command's stdout. Feed it every chunk; it returns the
 * bytes that are real output. A first line that is not a pid is passed through as output.
 */
export class PidLineReader {
  pid: number | undefined;
  private head: Buffer | undefined = Buffer.alloc(0);
  private readonly onPid: (pid: number | undefined) => void;

  constructor(onPid: (pid: number | undefined) => void) {
    this.onPid = onPid;
  }

  push(chunk: Buffer): Buffer {
    if (!this.head) return chunk;
    const data = Buffer.concat([this.head, chunk]);
    const nl = data.indexOf(0x0a);
    if (nl === -1 && data.length <= 24) {
      this.head = data;
      return Buffer.alloc(0);
    }
    this.head = undefined;
    const line = nl === -1 ? '' : data.subarray(0, nl).toString('latin1');
    if (!/^[0-9]{1,10}$/.test(line)) {
      this.onPid(undefined);
      return data;
    }
    this.pid = Number(line);
    this.onPid(this.pid);
    return data.subarray(nl + 1);
  }
}
