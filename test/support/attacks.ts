/**
 * The attack on the policy engine, as data shared by the unit, CLI and end-to-end tests: a policy
 * that names every wrapper and builtin it allows (alias "named") or allows "*" (alias "star"),
 * denies the payload `touch`, and the lines that once ran it (or a spelling of one that did).
 * `payload(line, path)` points the lines' `touch x` at a file a test can look for.
 */
export const ATTACK_POLICY = `
rules:
  - name: reads and wrappers, named
    action: allow
    aliases: ["named*"]
    commands: ["echo *", "ls *", "cat *", "grep *", "uptime", "printf *", "test *", "read *", "timeout *", "env *",
               "sudo *", "find /tmp *", "xargs *", "nice *", "mapfile *", "compgen *", "hash *", "timeout * sh -c *",
               "systemctl status *", "journalctl *", "python3 *", "awk *",
               "awk '{print $1}' *", "sh -c *", "bash -c *", "bash *", "sh *", "shopt *", "cd *",
               "set *", "tar *", "sort *", "git *", "split *", "ssh-agent *", "mapfile *", "readarray *"]
  - name: everything
    action: allow
    aliases: ["star*"]
    commands: ["*"]
  - name: the payload
    action: deny
    commands: ["touch *", "*/etc/shadow*", "*.ssh/*", "systemctl * -H*", "systemctl * --host*", "journalctl * --directory*", "grep * -r*"]
`;

/** [class, command] pairs that must be denied on both hosts, with both pinned shells. */
export const MUST_DENY: [string, string][] = [
  ['differential', 'echo a\\\t#b; touch x'],
  ['differential', 'echo \\\t#b; touch x'],
  ['differential', 'uptime <&-#;touch x'],
  ['differential', 'uptime >&-#;touch x'],
  ['differential', 'echo x == y\ntouch z'],
  ['differential', 'echo x =~ y\ntouch z'],
  ['differential', 'ls &>/dev/null & touch x'],
  ['builtin', "printf -v 'a[$(touch x)]' y"],
  ['builtin', "printf -v'a[$(touch x)]' y"],
  ['builtin', "test -v 'a[$(touch x)]'"],
  ['builtin', "read 'a[$(touch x)]'"],
  ['builtin', "mapfile -C 'touch x' -c 1 y"],
  ['builtin', "compgen -C 'touch x' y"],
  ['builtin', 'hash -p /usr/bin/touch ls'],
  ['builtin', "let 'a[$(touch x)]'"],
  ['builtin', "wait -n -p 'a[$(touch x)]'"],
  ['wrapper', "timeout 5 sh -c 'touch x'"],
  ['wrapper', "timeout 5 bash -c 'uptime; touch x'"],
  ['wrapper', "timeout 5 sh -c 'sh -c \"touch x\"'"],
  ['wrapper', "find /tmp -exec sh -c 'touch x' \\;"],
  ['wrapper', "bash --norc -c 'touch x'"],
  ['wrapper', "bash -o posix -c 'touch x'"],
  ['wrapper', "bash --rcfile /dev/null -c 'touch x'"],
  ['wrapper', "bash -c -e 'touch x'"],
  ['wrapper', "bash -ec 'touch x'"],
  ['wrapper', "bash -c - 'touch x'"],
  ['wrapper', "echo 'touch x' | sh -e"],
  ['wrapper', 'echo touch x | bash -s'],
  ['wrapper', "echo 'touch x' | sudo sh"],
  ['wrapper', "timeout 5 python3 -c 'import os; os.system(\"touch x\")'"],
  ['wrapper', "timeout 5 perl -e 'system(\"touch x\")'"],
  ['wrapper', 'timeout 5 awk \'BEGIN{system("touch x")}\''],
  ['wrapper', "python3 -c 'import os'"],
  ['wrapper', 'awk \'BEGIN{system("touch x")}\''],
  ['wrapper', 'timeout 30 /usr/bin/tou?h x'],
  ['wrapper', 'timeout 30 /usr/bin/t[o]uch x'],
  ['wrapper', 'find /tmp -exec /usr/bin/tou?h x \\;'],
  ['wrapper', 'timeout 5 /usr/bin/py*3 x'],
  ['wrapper', "sudo -s 'touch x'"],
  ['wrapper', "env -S 'touch x'"],
  ['wrapper', 'nice -n 5 touch x'],
  ['wrapper', 'xargs touch'],
  ['wrapper', 'xargs env'],
  ['wrapper', 'timeout 5 sudo touch x'],
  ['review', 'echo ${x-<(touch x)}'],
  ['review', "awk '{print $1}' ${x-<(touch x)}"],
  ['review', 'echo ${HOME:+>(touch x)}'],
  ['review', 'echo ${x#<(touch x)}'],
  ['review', "printf -v OPTIND 'a[$(touch x)]'"],
  ['review', "echo 'a[$(touch x)]' | read OPTIND"],
  ['review', "echo 'a[$(touch x)]' | read -r RANDOM"],
  ['review', 'mapfile -t RANDOM < /dev/null'],
  ['review', "bash -oc posix 'touch x'"],
  ['review', "bash -Oc extglob 'touch x'"],
  ['review', "sh -oc noglob 'touch x'"],
  ['review', "echo 'touch x' | bash /dev/stdin"],
  ['review', "echo 'touch x' | bash /dev/fd/0"],
  ['review', "echo 'touch x' | sh -c -s uptime"],
  ['review', "echo 'touch x' | xargs -d '\\n' sh -c"],
  ['review', 'echo touch x | xargs xargs'],
  ['review', 'echo \'import os;os.system("touch x")\' | python3 -'],
  ['review', "echo 'import os' | python3 /dev/stdin"],
  ['review', 'echo \'BEGIN{system("touch x")}\' | awk -f /dev/stdin'],
  ['review', "echo 'BEGIN{}' | awk -f -"],
  ['review', 'grep -c "両\\" ; touch x ; grep -c "両\\" /etc/hostname'],
  ['review', 'printf -v LC_ALL zh_TW.BIG5\necho "両\\" ; touch x ; echo "両\\"'],
  ['review', "env --split='touch x'"],
  ['review', "env --sp='touch x'"],
  ['review', "sudo --sh 'touch$IFS/x'"],
  ['review', "tar -cf /dev/null /etc/hostname --checkpoint=1 --checkpoint-act=exec='touch x'"],
  ['review', "tar cIf 'touch x' /tmp/a.tar /etc/hostname"],
  ['review', 'sort --compress-prog=x'],
  ['review', "awk --sou='BEGIN{}'"],
  ['review', "awk '{print $1}' /etc/sha${x-dow}"],
  ['review', "awk '{print $1}' ${x-/root/.ssh}/id_rsa"],
  ['review', 'cd /etc; cat shadow'],
  ['review', 'cd /root/.ssh && cat id_rsa'],
  ['review', 'printf -v HOME /etc; cat ~/shadow'],
  ['review', 'shopt -s nocaseglob\ncat /[E]TC/SHADO[W]'],
  ['review', "printf -v PS4 '$(touch x)'; set -x; true"],
  ['review', 'set -o history -H\necho a; echo touch x\necho x !-1:2 !-1:4 !-1:5'],
  ['review', 'ssh-agent touch x'],
  ['review', "echo x | split --filter='touch x'"],
  ['review', "git difftool -x 'touch x'"],
  ['review', 'find /tmp -name x -exec {} \\;'],
  ['review', 'sudo $CMD'],
  ['review', 'timeout 5 $(echo touch) x'],
  ['glob', 'cat /etc/sha[[.d.]]ow'],
  ['glob', 'cat /etc/sha[[=d=]]ow'],
  ['glob', 'cat /etc/shado[[:alpha:]]'],
  ['glob', 'cat /etc/shado[!x]'],
  ['glob', 'cat /etc/shado[^x]'],
  ['glob', 'cat /etc/shad[]o]w'],
  ['path', 'cat /etc//shadow'],
  ['path', 'cat /etc/./shadow'],
  ['path', 'cat /tmp/../etc/shadow'],
  ['path', 'cat /home/x/.ssh//id_rsa'],
  ['option', 'systemctl -H host status x'],
  ['option', 'systemctl status x --hos=host'],
  ['option', 'systemctl status x --h host'],
  ['option', 'systemctl status -qH host x'],
  ['option', 'journalctl --direc=/x'],
  ['option', 'journalctl --dir /x'],
  ['option', 'grep -r x /etc'],
  ['option', 'grep -rn x /home'],
];

/** Lines the named rules still allow: the engine must not deny everything to be safe. */
export const STILL_ALLOWED: string[] = [
    'uptime',
    'timeout 5 sh -c uptime',
    "timeout 5 sh -c 'uptime; echo ok'",
    'find /tmp -name x',
    'xargs echo',
    'systemctl status nginx --no-pager',
    'grep -c x /var/log/syslog',
    "awk '{print $1}' /etc/hosts",
];

/** The line with its payload's file (`touch x`, `tou?h x`, `t[o]uch z`…) moved under `dir`. */
export function payload(line: string, dir: string): string {
  return line.replace(/\b(touch|tou\?h|t\[o\]uch) ([xyz])\b/g, (_, cmd: string, file: string) => `${cmd} ${dir}/${file}`);
}
