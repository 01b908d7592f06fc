/**
 * Commands reach the shell the inventory names, whatever the account's login shell: one fleet user
 * per login shell, each a host alias (same sshd), driven through sshgate's MCP tools.
 */
import { accessSync, constants } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ALLOW_ALL_POLICY,
  endedWithin,
  goneWithin,
  pkillFleet,
  presentWithin,
  removeConfig,
  startGate,
  writeConfig,
  type Gate,
  type HostSpec,
} from '../support/mcp.js';
import { shellUser, startFleet, type Fleet } from '../support/sshd.js';

interface RunResult {
  task_id: string;
  state: string;
  exit_code: number | null;
  stdout: string;
  stderr: string;
}

const LOGIN_SHELLS: Record<string, string> = {
  bash: '/bin/bash',
  dash: '/bin/dash',
  zsh: '/usr/bin/zsh',
  fish: '/usr/bin/fish',
  csh: '/usr/bin/bsd-csh',
  tcsh: '/usr/bin/tcsh',
};

function installed(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const present = Object.entries(LOGIN_SHELLS).filter(([, path]) => installed(path));
const missing = Object.entries(LOGIN_SHELLS).filter(([, path]) => !installed(path));

/** The sweep test starts a process outside the command's group: only the sweep can stop it. */
const POLICY = `${ALLOW_ALL_POLICY}  - { name: "the sweep test", action: allow, commands: ["setsid sleep *"] }\n`;

let fleet: Fleet;
let gate: Gate;
beforeAll(async () => {
  fleet = await startFleet(1, { subnet: 76, loginShells: present.map(([, path]) => path) });
  const h = fleet.hosts[0] as Fleet['hosts'][number];
  const hosts: HostSpec[] = present.flatMap(([name, path]) => [
    { alias: name, host: h.host, port: h.port, user: shellUser(path) },
    { alias: `${name}-sh`, host: h.host, port: h.port, user: shellUser(path), shell: 'sh' as const },
  ]);
  gate = await startGate(writeConfig(fleet, { hosts, policy: POLICY }));
});
afterAll(async () => {
  await gate?.close();
  for (const [, path] of present) pkillFleet(shellUser(path), 'sleep 3[0-9][0-9][0-9]');
  await fleet?.stop();
  if (gate) removeConfig(gate.dir);
});

describe('hosts whose accounts have different login shells', () => {
  if (missing.length > 0) it.skip(`under login shells that are not installed here: ${missing.map(([n]) => n).join(', ')}`, () => undefined);

  it('run a command with quotes, $ and # identically, and return its exit status', async () => {
    const command = `echo "two words" 'single $x' "it's" \\#hash "a\\"b" # a comment\necho "$0"; exit 7`;
    const results = await Promise.all(present.map(([name]) => gate.ok<RunResult>('ssh_run', { alias: name, command })));
    for (const [i, [name]] of present.entries()) {
      expect(results[i], name).toMatchObject({
        state: 'failed',
        exit_code: 7,
        stdout: `two words single $x it's #hash a"b\nbash\n`,
        stderr: '',
      });
    }
  });

  it('run shell: bash in bash and shell: sh in dash', async () => {
    const command = 'echo "$(readlink /proc/$$/exe) [$BASH_VERSION]"';
    const aliases = present.flatMap(([name]) => [name, `${name}-sh`]);
    const results = await Promise.all(aliases.map((alias) => gate.ok<RunResult>('ssh_run', { alias, command })));
    for (const [i, alias] of aliases.entries()) {
      expect(results[i]?.stdout, alias).toMatch(
        alias.endsWith('-sh') ? /^\/usr\/bin\/dash \[\]\n$/ : /^\/usr\/bin\/bash \[5\.[0-9.]+\(.*\]\n$/,
      );
    }
  });

  it('run a command of the full 16384 bytes', async () => {
    const command = `echo ${'x'.repeat(16_384 - 5)}`;
    const results = await Promise.all(present.map(([name]) => gate.ok<RunResult>('ssh_run', { alias: name, command })));
    for (const [i, [name]] of present.entries()) expect(results[i]?.stdout.length, name).toBe(16_380);
  });

  it('leave no process behind on ssh_cancel, a setsid child included (the sweep found the shell)', async () => {
    await Promise.all(
      present.map(async ([name, path], i) => {
        const user = shellUser(path);
        const r = await gate.ok<RunResult>('ssh_run', {
          alias: name,
          command: `sleep 30${i}0 & setsid sleep 30${i}1 & sleep 30${i}2`,
          wait_seconds: 0.5,
        });
        expect(r.state, name).toBe('running');
        for (const n of [0, 1, 2]) expect(await presentWithin(user, `^sleep 30${i}${n}$`), `${name}: sleep 30${i}${n}`).not.toBe('');
        await gate.ok('ssh_cancel', { task_id: r.task_id });
        expect(await goneWithin(user, `^sleep 30${i}[012]$`, 3000), `${name}: processes left`).toBe(true);
        expect(await endedWithin(gate, r.task_id), name).toBe('cancelled');
      }),
    );
  });
});
