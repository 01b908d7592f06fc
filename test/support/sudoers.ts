/**
 * sudo for the tests that elevate: a sudoers drop-in per test file, and login passwords for sudo
 * to ask for. A drop-in is checked by visudo before it is in force: a broken file in
 * /etc/sudoers.d stops sudo for the whole machine, every other test's included.
 */
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';

export interface Sudoers {
  path: string;
  remove(): void;
}

/**
 * Installs `/etc/sudoers.d/sshgate-test-<name>-<pid>` with `lines`: written beside it, checked by
 * `visudo -cf`, then moved into place (sudo never reads a half-written file).
 */
export function installSudoers(name: string, lines: readonly string[]): Sudoers {
  const path = `/etc/sudoers.d/sshgate-test-${name}-${process.pid}`;
  const draft = `${path}.draft`;
  writeFileSync(draft, [...lines, ''].join('\n'), { mode: 0o440 });
  try {
    execFileSync('visudo', ['-cf', draft]);
    execFileSync('mv', [draft, path]);
  } finally {
    rmSync(draft, { force: true });
  }
  return { path, remove: () => rmSync(path, { force: true }) };
}

/** Sets each user's login password (what sudo asks for), with chpasswd. */
export function setPasswords(passwords: Readonly<Record<string, string>>): void {
  execFileSync('chpasswd', {
    input: Object.entries(passwords)
      .map(([user, pw]) => `${user}:${pw}\n`)
      .join(''),
  });
}
