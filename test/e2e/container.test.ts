/**
 * No Docker engine runs here, so this runs what the image runs: the Dockerfile's ENTRYPOINT, CMD,
 * ENV and HEALTHCHECK, read from the Dockerfile itself, as its numeric non-root user, from a
 * read-only working directory, with read-only config, policies and secrets and only the state dir
 * writable — the image's paths mapped onto temporary directories (the mounts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WASM_FLAGS } from '../../src/memory.js';
import { writeConfig } from '../support/mcp.js';
import { startFleet, type Fleet } from '../support/sshd.js';

interface Image {
  user: [number, number];
  /** The RUN lines of the last stage before its USER (as root), and after it (as the user). */
  runsAsRoot: string[];
  runsAsUser: string[];
  env: Record<string, string>;
  entrypoint: string[];
  cmd: string[];
  healthcheck: string[];
}

/** The parts of the Dockerfile's last stage that decide how the container runs. */
function readImage(): Image {
  const text = readFileSync('Dockerfile', 'utf8').replace(/\\\n\s*/g, ' ');
  const stages = text.split(/^FROM /m);
  const last = stages.at(-1) as string;
  const json = (re: RegExp) => JSON.parse(re.exec(last)?.[1] ?? 'null') as string[];
  const env: Record<string, string> = {};
  for (const m of last.matchAll(/^ENV (.+)$/gm))
    for (const kv of (m[1] as string).trim().split(/\s+/)) env[kv.split('=')[0] as string] = kv.split('=').slice(1).join('=');
  const user = /^USER (\d+):(\d+)$/m.exec(last);
  const [beforeUser, afterUser = ''] = last.split(/^USER /m);
  const runs = (part: string) => [...part.matchAll(/^RUN (.+)$/gm)].flatMap((m) => (m[1] as string).split(/ && (?=node )/));
  return {
    user: [Number(user?.[1]), Number(user?.[2])],
    runsAsRoot: runs(beforeUser as string),
    runsAsUser: runs(afterUser),
    env,
    entrypoint: json(/^ENTRYPOINT (\[.*\])$/m),
    cmd: json(/^CMD (\[.*\])$/m),
    healthcheck: json(/^HEALTHCHECK .*CMD (\[.*\])$/m),
  };
}

const image = readImage();
let fleet: Fleet;
let root: string;
/** The image's paths, mapped onto this machine. */
let mounts: Record<string, string>;

function mapped(arg: string): string {
  for (const [from, to] of Object.entries(mounts)) if (arg === from || arg.startsWith(`${from}/`)) return to + arg.slice(from.length);
  if (arg.startsWith('/app/')) return resolve(arg.slice('/app/'.length));
  return arg;
}

function containerEnv(): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
  for (const [k, v] of Object.entries(image.env)) env[k] = mapped(v);
  return env;
}

/** How the container would run `argv`: as its user, no new privileges, no supplementary groups. */
function asContainer(argv: string[]): [string, string[]] {
  const [uid, gid] = image.user;
  const [bin, ...rest] = argv.map(mapped);
  return [
    'setpriv',
    [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--no-new-privs', bin === 'node' ? process.execPath : (bin as string), ...rest],
  ];
}

beforeAll(async () => {
  fleet = await startFleet(1, { subnet: 70 });
  const gate = writeConfig(fleet, { hosts: fleet.hosts });
  root = mkdtempSync(join(tmpdir(), 'sshgate-image-'));
  chmodSync(root, 0o755);
  mounts = {
    // The blob of this machine's Node, built below by the Dockerfile's own command.
    '/app/sshgate.blob': join(root, 'sshgate.blob'),
    '/etc/sshgate/config': join(root, 'etc/sshgate/config'),
    '/etc/sshgate/policies': join(root, 'etc/sshgate/policies'),
    '/run/secrets': join(root, 'run/secrets'),
    '/var/lib/sshgate': join(root, 'var/lib/sshgate'),
  };
  for (const [from, d] of Object.entries(mounts)) if (from !== '/app/sshgate.blob') mkdirSync(d, { recursive: true });
  // The last stage's snapshot build, of the script npm run build:snapshot made (test/global-setup.ts).
  const blobBuild = (image.runsAsRoot.find((run) => run.includes('--build-snapshot')) as string).split(' ');
  const [bin, ...args] = blobBuild.map(mapped);
  execFileSync(bin === 'node' ? process.execPath : (bin as string), args, { env: { PATH: process.env.PATH ?? '' }, stdio: 'ignore' });
  mkdirSync(join(root, 'run/secrets/keys'));
  for (const f of ['servers.yml', 'credentials.yml', 'known_hosts'])
    copyFileSync(join(gate, 'config', f), join(mounts['/etc/sshgate/config'] as string, f));
  copyFileSync(join(gate, 'policies', 'test.yml'), join(mounts['/etc/sshgate/policies'] as string, 'test.yml'));
  copyFileSync(join(gate, 'config', 'keys', 'fleet'), join(root, 'run/secrets/keys/fleet'));
  rmSync(gate, { recursive: true, force: true });
  // Read-only for the container user: root owns everything but the state dir (the tmpfs).
  const [uid, gid] = image.user;
  const readOnly = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) readOnly(p);
      chmodSync(p, e.isDirectory() ? 0o555 : 0o444);
    }
    chmodSync(dir, 0o555);
  };
  for (const d of ['etc', 'run']) readOnly(join(root, d));
  chownSync(join(root, 'run/secrets/keys/fleet'), uid, gid);
  chmodSync(join(root, 'run/secrets/keys/fleet'), 0o400);
  chownSync(mounts['/var/lib/sshgate'] as string, uid, gid);
  chmodSync(mounts['/var/lib/sshgate'] as string, 0o700);
  mkdirSync(join(root, 'cwd'), { mode: 0o555 });
});
afterAll(async () => {
  await fleet?.stop();
  if (root) {
    execFileSync('chmod', ['-R', 'u+w', root]);
    rmSync(root, { recursive: true, force: true });
  }
});

describe('the image, run without Docker', () => {
  it('is built to run as a numeric non-root user, with exec-form entry and health check', () => {
    expect(image.user[0]).toBeGreaterThan(0);
    expect(image.cmd).toEqual(['serve']);
  });

  it('gives node the WebAssembly flags at start, in its entry and its health check: nothing sets them at run time', () => {
    expect(image.entrypoint).toEqual(['node', ...WASM_FLAGS, '--snapshot-blob', '/app/sshgate.blob', '--']);
    expect(image.healthcheck).toEqual([...image.entrypoint, 'check']);
  });

  it("builds its startup snapshot as root, with the entry's node flags, at /app where it runs", () => {
    const blob = image.runsAsRoot.filter((run) => run.includes('--build-snapshot'));
    expect(blob).toEqual([
      `${['node', ...WASM_FLAGS].join(' ')} --snapshot-blob /app/sshgate.blob --build-snapshot /app/dist/snapshot.cjs`,
    ]);
    // The entry and the health check start from that blob.
    expect(image.entrypoint.slice(-3)).toEqual(['--snapshot-blob', '/app/sshgate.blob', '--']);
  });

  it('keeps no compile cache and runs nothing as its user at build: no code the user could write is code node runs', () => {
    // V8 refuses code cached outside a snapshot in a start from it; a cache the container's user
    // filled would be code that user wrote (docs/architecture.md, "Start").
    expect(image.env.NODE_COMPILE_CACHE).toBeUndefined();
    expect(image.runsAsUser).toEqual([]);
  });

  it('passes its health check as that user, from a read-only directory', () => {
    const [cmd, args] = asContainer(image.healthcheck);
    const r = spawnSync(cmd, args, { cwd: join(root, 'cwd'), env: containerEnv(), encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('serves MCP over stdio as that user, runs a command, and writes only to its state dir', async () => {
    const [cmd, args] = asContainer([...image.entrypoint, ...image.cmd]);
    const transport = new StdioClientTransport({ command: cmd, args, cwd: join(root, 'cwd'), env: containerEnv(), stderr: 'pipe' });
    let log = '';
    transport.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    const client = new Client({ name: 'image-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const r = await client.callTool({
        name: 'ssh_run',
        arguments: { alias: 'h1', command: 'id -u; echo from the image' },
      });
      expect(r.structuredContent).toMatchObject({
        state: 'succeeded',
        stdout: `${execFileSync('id', ['-u', fleet.user], { encoding: 'utf8' }).trim()}\nfrom the image\n`,
      });
    } finally {
      await client.close();
    }
    expect(log).not.toContain('"level":50');
    const state = mounts['/var/lib/sshgate'] as string;
    const journal = readdirSync(state).find((f) => /^tasks\.\d+\.jsonl$/.test(f)) as string;
    expect(journal).toBeDefined();
    expect(statSync(join(state, journal)).uid).toBe(image.user[0]);
  });
});
