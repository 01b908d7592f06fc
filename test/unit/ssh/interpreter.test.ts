import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { accessSync, constants, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DECODE_FAILED_STATUS, pinnedCommand, type HostShell } from '../../../src/ssh/interpreter.js';
import { pidMarker, withPidLine } from '../../../src/ssh/cancel-sweep.js';
import { tempDir } from '../../support/policy.js';

/** The login shells a host account may have; sshd runs `<login shell> -c <request>`. */
const LOGIN_SHELLS = ['sh', 'dash', 'bash', 'zsh', 'fish', 'csh', 'tcsh', 'ksh', 'mksh'];
const PATH = '/usr/local/bin:/usr/bin:/bin';

function installed(name: string): string | undefined {
  for (const dir of PATH.split(':')) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

/** An empty home, so that no rc file of this machine's users speaks up; fish writes its state here. */
const home = tempDir('sshgate-interp-');
afterAll(() => rmSync(home, { recursive: true, force: true }));
const env = (path = PATH) => ({ PATH: path, HOME: home, LANG: 'C.UTF-8' });

const STDIN = 'a line on stdin\n';

function run(file: string, args: string[], path?: string): SpawnSyncReturns<Buffer> {
  return spawnSync(file, args, { env: env(path), input: STDIN, timeout: 20_000 });
}

/** What the script does when the pinned shell is started directly (as the brief of the host says). */
function direct(shell: HostShell, script: string): SpawnSyncReturns<Buffer> {
  return shell === 'bash'
    ? run('/bin/bash', ['--noprofile', '--norc', '-c', '--', script, 'bash'])
    : run('/bin/sh', ['-c', '--', script, 'sh']);
}

/** What it does when sent through a login shell, as sshd runs an exec request. */
function viaLogin(login: string, shell: HostShell, script: string, path?: string): SpawnSyncReturns<Buffer> {
  return run(login, ['-c', pinnedCommand(shell, script)], path);
}

const MARKER = 'sshgate-pid-000000000000';

/** What a caller sees of a run; the pid line must name the process's own pid, which then reads <pid>. */
const seen = (r: SpawnSyncReturns<Buffer>) => ({
  status: r.status,
  signal: r.signal,
  stdout: r.stdout.toString('utf8').replace(`${MARKER} ${r.pid}\n`, `${MARKER} <pid>\n`),
  stderr: r.stderr.toString('utf8'),
});

/** Each line of the big script holds every awkward character; the whole is the command limit. */
const LINE = 'echo \'a"b$c\\d!e#f\' "q\'\\$x\\`!" ✓ \\! # \'unbalanced "\n';
const COMMAND_LIMIT = 16_384;
const LINES = Math.floor((COMMAND_LIMIT - 100) / Buffer.byteLength(LINE));
const big = LINE.repeat(LINES);
const bigCommand = `${big}echo ${'x'.repeat(COMMAND_LIMIT - Buffer.byteLength(big) - 5)}`;

const SCRIPTS: Record<string, string> = {
  'quotes and backslashes': `printf '%s|' 'single' "double \\"q\\" \\$HOME" \\back\\\\slash 'it'\\''s' "\\\\"; echo`,
  'every $ form': 'x=1; echo $x ${x} "$x" \'$x\' $((x+1)) $(echo sub) `echo tick` "${s-unset}" "$#" "$0" ${1-none}',
  '! and #': 'echo hi!; echo "a!b" \'c!d\'; ! false && echo negated # a comment\necho \'#not a comment\' "#nor this" # but this\n#!/bin/sh',
  'newlines, tabs and trailing newlines': 'echo one\n\n\techo\ttwo\n\n\n',
  heredocs:
    "x=1\ncat <<EOF\n$x \\$y `echo z` 'q' \"dq\" !\nEOF\ncat <<'RAW'\n$x 'q' \"dq\" \\ ! `no`\nRAW\ncat <<-T\n\tindented\n\tT\necho after",
  'a heredoc that ends the script': 'cat <<EOF\nlast line\nEOF',
  'a heredoc the script ends inside': 'cat <<EOF\nbody\n\n',
  unicode: "echo 'héllo wörld ✓ 😀' \"日本語\"; printf %s '日本語' | wc -c",
  '% and other printf text': "printf '%d%% %s\\n' 5 '%s'",
  'exit status and both streams': 'echo out; echo err >&2; exit 42',
  'a command not found': 'no-such-command-sshgate; echo "status $?"',
  'a syntax error after output': 'echo before\nif then fi',
  'a signal': 'echo dying; kill -TERM $$; echo never',
  stdin: 'read -r line; echo "read: $line"; cat; echo "rest done"',
  'bash syntax': '[[ -n $BASH_VERSION ]] && echo in bash; arr=(a b); echo "${arr[1]}"',
  'the command limit, with its pid line': withPidLine(bigCommand, MARKER),
  'plain ASCII, sent as it is': withPidLine(
    'echo "a b" $HOME ${x-y} `echo bq` #c ; ls / | wc -l & wait; echo ~ * ? [a] {b,c} % ^ ; true && false || echo "or $0" ; exit 3',
    MARKER,
  ),
  'plain ASCII that is not a command': 'if ; then "unbalanced',
  'a script that looks like an option': '-x',
  'a script that is the end of options': '--',
};

/** The scripts the login shell gets between single quotes as they are, without base64. */
const PLAIN_SCRIPTS = [
  'plain ASCII, sent as it is',
  'plain ASCII that is not a command',
  'a script that looks like an option',
  'a script that is the end of options',
];

describe('pinnedCommand', () => {
  it("gives the login shell only bare words and single-quoted words without ' \\ ! or a newline", () => {
    for (const shell of ['bash', 'sh'] as const) {
      const plain = `exec ${shell === 'bash' ? '/bin/bash --noprofile --norc' : '/bin/sh'} -c -- '`;
      for (const [name, script] of Object.entries(SCRIPTS)) {
        const line = pinnedCommand(shell, script);
        const sentPlain = line === `${plain}${script}' ${shell}`;
        if (!sentPlain) expect(line, name).toMatch(/^exec \/bin\/sh -c '[^'\\!\n]*' sh( '[A-Za-z0-9+/=]{1,4000}')+$/);
        expect(sentPlain, name).toBe(PLAIN_SCRIPTS.includes(name) || (!/['\\!\n\t\u0080-\uffff]/.test(script) && script.length <= 4000));
      }
    }
  });

  for (const shell of ['bash', 'sh'] as const) {
    const expected = new Map(Object.entries(SCRIPTS).map(([name, script]) => [name, seen(direct(shell, script))]));

    for (const name of LOGIN_SHELLS) {
      const login = installed(name);
      it.skipIf(!login)(
        `runs every script as ${shell === 'bash' ? '/bin/bash --noprofile --norc' : '/bin/sh'} would, from login shell ${name}${login ? '' : ' (skipped: not installed)'}`,
        () => {
          for (const [what, script] of Object.entries(SCRIPTS)) {
            expect(seen(viaLogin(login as string, shell, script)), `${what} (${name} → ${shell})`).toEqual(expected.get(what));
          }
        },
      );
    }
  }

  it('the scripts cover what they claim: a signal, a syntax error, stdin, a 16 KiB script', () => {
    expect(seen(direct('bash', SCRIPTS['a signal'] as string)).signal).toBe('SIGTERM');
    expect(seen(direct('bash', SCRIPTS['a syntax error after output'] as string)).stderr).toContain('syntax error');
    expect(seen(direct('sh', SCRIPTS.stdin as string)).stdout).toBe(`read: ${STDIN}rest done\n`);
    expect(Buffer.byteLength(bigCommand)).toBe(COMMAND_LIMIT);
    expect(seen(direct('bash', SCRIPTS['the command limit, with its pid line'] as string)).stdout.split('\n')).toHaveLength(LINES + 3);
  });

  for (const name of LOGIN_SHELLS) {
    const login = installed(name);
    it.skipIf(!login)(
      `runs shell: sh in dash and shell: bash in bash, under the pid sshd started, from login shell ${name}${login ? '' : ' (skipped: not installed)'}`,
      () => {
        const probe = 'echo "$$ $(readlink /proc/$$/exe) [$BASH_VERSION]"';
        for (const shell of ['bash', 'sh'] as const) {
          const r = viaLogin(login as string, shell, probe);
          const [pid, exe, version] = r.stdout.toString().trim().split(' ');
          expect(Number(pid), `${name} → ${shell}`).toBe(r.pid);
          expect(exe).toBe(shell === 'bash' ? '/usr/bin/bash' : '/usr/bin/dash');
          expect(version).toMatch(shell === 'bash' ? /^\[5\.[0-9]/ : /^\[\]$/);
        }
        const marker = pidMarker();
        const r = viaLogin(login as string, 'bash', withPidLine('echo ran', marker));
        expect(r.stdout.toString()).toBe(`${marker} ${r.pid}\nran\n`);
      },
    );
  }

  describe('on a host whose base64 is missing or fails', () => {
    const noBase64 = join(home, 'no-base64');
    const failing = join(home, 'failing-base64');
    mkdirSync(noBase64, { recursive: true });
    mkdirSync(failing, { recursive: true });
    writeFileSync(join(failing, 'base64'), '#!/bin/sh\necho "base64: broken" >&2\nexit 1\n', { mode: 0o755 });

    for (const name of LOGIN_SHELLS) {
      const login = installed(name);
      it.skipIf(!login)(
        `runs nothing and exits ${DECODE_FAILED_STATUS} with a message, from login shell ${name}${login ? '' : ' (skipped: not installed)'}`,
        () => {
          for (const [path, why] of [
            [noBase64, /base64: (command )?not found/],
            [`${failing}:${PATH}`, /base64: broken/],
          ] as const) {
            const r = seen(viaLogin(login as string, 'bash', "echo 'ran'; exit 0", path));
            expect(r, `${name}, PATH=${path}`).toMatchObject({ status: DECODE_FAILED_STATUS, stdout: '' });
            expect(r.stderr).toMatch(why);
            expect(r.stderr).toContain('sshgate: base64 -d failed on this host, so the command did not run');
          }
        },
      );
    }
  });
});
