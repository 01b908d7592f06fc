/**
 * The built-in parts of every policy. They can only deny more: a policy file adds to them and
 * cannot remove them. docs/policy.md lists them, and `sshgate check` prints how many are in force.
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
  'sed', 'runcon', 'sg', 'newgrp', 'setpriv', 'capsh', 'firejail', 'bwrap', 'systemd-nspawn', 'machinectl',
  'tclsh', 'wish', 'expect', 'Rscript', 'julia', 'pwsh', 'osascript', 'jshell', 'deno', 'bun', 'tsx', 'ts-node', 'nodejs',
  'python3.11', 'python3.12', 'python3.13', 'pypy', 'pypy3', 'perl5', 'irb', 'erl', 'escript', 'guile', 'sbcl', 'ghci', 'gdb',
  'yash', 'posh', 'rbash', 'elvish', 'nu', 'xonsh', 'rc', 'es', 'oksh', 'loksh', 'pdksh', 'ksh93', 'scsh',
  'numactl', 'prlimit', 'cgexec', 'chpst', 'setarch', 'linux32', 'linux64', 'faketime', 'proxychains', 'proxychains4',
  'torsocks', 'rlwrap', 'unbuffer', 'catchsegv', 'valgrind', 'ltrace', 'perf', 'systemd-cat', 'dbus-launch', 'xvfb-run',
  'daemonize', 'start-stop-daemon', 'run-parts', 'make', 'vim', 'vi', 'nvim', 'ex', 'view', 'ed', 'emacs', 'less', 'more',
  'most', 'man', 'pager', 'editor', 'sensible-editor', 'sensible-pager', 'ip', 'schroot', 'lxc-attach', 'toolbox',
  'distrobox', 'flatpak', 'snap', 'nix-shell', 'fakeroot', 'fakechroot', 'eatmydata', 'caffeinate', 'sem',
  'ssh-agent', 'dbus-run-session', 'systemd-inhibit', 'tmux', 'screen', 'run0', 'sqlite3', 'flatpak-spawn', 'entr',
  'dc',
]);

/**
 * bash builtins that evaluate an argument as arithmetic or run it as code, or that change how
 * later commands are read (shopt, set, alias). A rule allows them only by naming them literally,
 * like wrappers; the forms that evaluate arithmetic (an array subscript in a name, `let`) are
 * never allowed at all (programs.ts).
 */
export const EVALUATING_BUILTINS: ReadonlySet<string> = new Set([
  'printf', 'test', '[', 'read', 'mapfile', 'readarray', 'compgen', 'complete', 'compopt', 'hash', 'let',
  'declare', 'typeset', 'local', 'export', 'readonly', 'unset', 'getopts', 'wait', 'fc', 'bind', 'shopt',
  'set', 'history', 'ulimit', 'unalias', 'caller', 'disown', 'suspend', 'logout', 'dirs', 'pushd', 'popd', 'cd',
]);

/** Shells whose `-c` string the engine reads as a command of its own, in this dialect. */
export const SHELL_DIALECTS: ReadonlyMap<string, 'bash' | 'sh'> = new Map([
  ['sh', 'sh'], ['dash', 'sh'], ['ash', 'sh'], ['bash', 'bash'],
]);

// Looked up with a command's name, which the agent chooses: Maps, so `__proto__` is no key.

/**
 * Flags whose value is code the engine cannot read (or, for sh and bash, a shell other than
 * the one it models runs). A rule allows them only by naming the flag literally as written,
 * bundle and all (`perl -lne *` allows `perl -lne '…'`, not `perl -e '…'`).
 */
export const CODE_FLAGS: ReadonlyMap<string, readonly string[]> = new Map(Object.entries({
  ...Object.fromEntries(['zsh', 'ksh', 'mksh', 'fish', 'csh', 'tcsh', 'yash', 'posh', 'rbash', 'oksh', 'loksh', 'pdksh', 'ksh93', 'elvish', 'nu', 'xonsh', 'rc', 'es', 'scsh'].map((s) => [s, ['-c']])),
  ...Object.fromEntries(['python', 'python2', 'python3', 'python3.11', 'python3.12', 'python3.13', 'pypy', 'pypy3'].map((p) => [p, ['-c', '-m']])),
  perl: ['-e', '-E', '-M', '-m', '-x'],
  perl5: ['-e', '-E', '-M', '-m', '-x'],
  ruby: ['-e', '-r'],
  irb: ['-r'],
  node: ['-e', '-p', '-r', '--eval', '--print', '--require', '--import', '--loader'],
  nodejs: ['-e', '-p', '-r', '--eval', '--print', '--require', '--import', '--loader'],
  deno: ['eval'],
  bun: ['-e', '--eval', '-p', '--print'],
  php: ['-r', '-B', '-R', '-E', '-F'],
  lua: ['-e', '-l'],
  tclsh: ['-c'],
  Rscript: ['-e'],
  julia: ['-e', '-E'],
  pwsh: ['-c', '-Command', '-EncodedCommand'],
  gdb: ['-ex', '-eval-command', '--eval-command', '-x'],
  guile: ['-c', '-e'],
  sbcl: ['--eval'],
  erl: ['-eval', '-s', '-run'],
  su: ['-c', '--command', '--session-command', '-s', '--shell'],
  runuser: ['-c', '--command', '--session-command', '-s', '--shell'],
  script: ['-c', '--command'],
  env: ['-S', '--split-string'],
  sudo: ['-s', '-i', '--shell', '--login'],
  awk: ['-e', '--source'],
  gawk: ['-e', '--source'],
  sed: ['-e', '--expression'],
  mapfile: ['-C'],
  readarray: ['-C'],
  // -W's word list is expanded (command substitution included); -X, -P, -S and -G take patterns and text it expands too.
  compgen: ['-C', '-F', '-W', '-X', '-P', '-S', '-G'],
  complete: ['-C', '-F', '-W', '-X', '-P', '-S', '-G'],
  compopt: ['-C', '-F', '-W', '-X', '-P', '-S', '-G'],
  bind: ['-x'],
  hash: ['-p'],
  expect: ['-c'],
  git: ['-c', '--config-env', '--exec-path', '--upload-pack', '--receive-pack', '-x', '--exec', '--extcmd'],
  split: ['--filter'],
  rsync: ['-e', '--rsh', '--rsync-path'],
  scp: ['-S', '-o'],
  sftp: ['-S', '-o'],
  tar: ['--to-command', '-I', '--use-compress-program', '--checkpoint-action', '--info-script', '-F', '--new-volume-script', '--rsh-command'],
  sort: ['--compress-program'],
  zip: ['-TT', '--unzip-command'],
}));

/** Programs whose first operand is code unless a flag brings the code in (awk 'BEGIN{…}', sed 's/…/e'). */
export const PROGRAM_OPERAND: ReadonlyMap<string, { inline: readonly string[]; valued: readonly string[] }> = new Map(Object.entries({
  ...Object.fromEntries(['awk', 'gawk', 'mawk', 'nawk'].map((a) => [a, { inline: ['-f', '--file', '-e', '--source'], valued: ['-F', '-v', '-f'] }])),
  sed: { inline: ['-e', '--expression', '-f', '--file'], valued: ['-l'] },
  trap: { inline: [], valued: [] },
}));
