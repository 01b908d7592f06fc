/**
 * The built-in parts of every policy. They can only deny more: a policy file adds to them and
 * cannot remove them. The README lists them, and `sshgate check` prints how many are in force.
 */

/** Substrings denied anywhere in a command, raw or normalised. */
export const BUILTIN_DENY_SUBSTRINGS: readonly string[] = [
  'rm -rf /',
  'rm -fr /',
  'rm -rf --no-preserve-root',
  ':(){',
  'mkfs',
  'of=/dev/sd',
  'of=/dev/nvme',
  'of=/dev/vd',
  'of=/dev/xvd',
  'of=/dev/mmcblk',
  '> /dev/sd',
  '> /dev/nvme',
];

/**
 * Commands that run another command, or shell code, given to them as arguments. A rule allows
 * them only by naming them literally (`sudo systemctl restart *`), never through a wildcard such
 * as `*`, and deny rules are also tried against the command they wrap.
 */
export const WRAPPER_COMMANDS: ReadonlySet<string> = new Set([
  'eval', 'exec', 'source', '.', 'command', 'builtin', 'trap', 'alias', 'enable', 'coproc',
  'env', 'xargs', 'nohup', 'nice', 'ionice', 'timeout', 'setsid', 'stdbuf', 'time', 'watch', 'flock',
  'sudo', 'su', 'doas', 'runuser', 'pkexec', 'chroot', 'unshare', 'nsenter', 'chrt', 'taskset', 'strace',
  'sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'ash', 'fish', 'csh', 'tcsh', 'busybox', 'script',
  'python', 'python2', 'python3', 'perl', 'ruby', 'node', 'php', 'lua', 'awk', 'gawk', 'mawk', 'nawk',
  'find', 'ssh', 'parallel', 'at', 'batch', 'crontab', 'systemd-run', 'docker', 'kubectl', 'podman',
]);
