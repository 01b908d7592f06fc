import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadPolicy } from '../../../src/config/load-policy.js';
import type { Principal } from '../../../src/principal.js';
import { RateLimiter } from '../../../src/policy/rate-limits.js';
import { QuotaStore, type QuotaStoreOptions } from '../../../src/tasks/quota-store.js';
import { writeTree } from '../../support/policy.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sshgate-quotas-'));
  dirs.push(d);
  return d;
}

const alice: Principal = { name: 'alice', roles: [], via: 'token' };
const bob: Principal = { name: 'bob', roles: [], via: 'token' };
const web1 = { alias: 'web1', tags: ['web'] };
const web2 = { alias: 'web2', tags: ['web'] };
const DAY = '2026-03-14';
/** 2026-03-14 10:00:00 UTC. */
const T0 = Date.UTC(2026, 2, 14, 10, 0, 0);

const policy = loadPolicy(
  join(writeTree({ 'p.yml': 'limits: { commands_per_day: 5, host_commands_per_day: 3, host_commands_per_minute: 1000 }\n' }), 'p.yml'),
);

/** A server: its store in `dir` as pid `pid`, and a limiter over it, on a clock the test moves. */
function server(dir: string, pid: number, clock: { now: number }, alive: number[] = [], extra: QuotaStoreOptions = {}) {
  const store = QuotaStore.open(dir, { pid, isAlive: (p) => alive.includes(p), now: () => clock.now, ...extra });
  const limiter = new RateLimiter({ policy: () => policy, days: store, now: () => clock.now });
  const run = (p: Principal, host: typeof web1, n: number) =>
    Array.from({ length: n }, () => limiter.check(p, host)).filter((e) => !e).length;
  return { store, limiter, run };
}

describe('the quota store', () => {
  it('keeps the day’s counts across a restart: a principal over its quota stays over it', () => {
    const dir = stateDir();
    const clock = { now: T0 };
    const first = server(dir, 111, clock);
    expect(first.run(alice, web1, 4)).toBe(3);
    expect(first.run(alice, web2, 4)).toBe(2);
    first.store.close();
    // pid 111 has ended: the next server claims its file and carries the counts on.
    const second = server(dir, 222, clock);
    expect(second.limiter.check(alice, web2)?.toJSON()).toMatchObject({ code: 'rate_limited', retry_after_seconds: 14 * 3600 });
    expect(second.run(bob, web1, 4)).toBe(3);
    second.store.close();
    expect(readdirSync(dir).sort()).toEqual(['quotas.222.json']);
    expect(JSON.parse(readFileSync(join(dir, 'quotas.222.json'), 'utf8'))).toEqual({
      version: 1,
      day: DAY,
      counts: expect.arrayContaining([
        ['alice', 'web1', 3],
        ['alice', 'web2', 2],
        ['bob', 'web1', 3],
      ]),
    });
    expect(statSync(join(dir, 'quotas.222.json')).mode & 0o777).toBe(0o600);
  });

  it('writes once per turn of the event loop, whatever a fan-out counts', async () => {
    const dir = stateDir();
    const clock = { now: T0 };
    const { store, run } = server(dir, 111, clock);
    expect(run(alice, web1, 2) + run(alice, web2, 2)).toBe(4);
    expect(existsSync(store.path)).toBe(false);
    await new Promise((r) => setImmediate(r));
    expect(JSON.parse(readFileSync(store.path, 'utf8')).counts).toEqual([
      ['alice', 'web1', 2],
      ['alice', 'web2', 2],
    ]);
  });

  it('starts again at 00:00 UTC, and carries only today’s counts over a restart', () => {
    const dir = stateDir();
    const clock = { now: Date.UTC(2026, 2, 14, 23, 59, 59) };
    const first = server(dir, 111, clock);
    expect(first.run(alice, web1, 4)).toBe(3);
    clock.now += 1000;
    expect(first.run(alice, web1, 4)).toBe(3);
    first.store.close();
    expect(JSON.parse(readFileSync(join(dir, 'quotas.111.json'), 'utf8'))).toMatchObject({
      day: '2026-03-15',
      counts: [['alice', 'web1', 3]],
    });
    // A file of yesterday is claimed and forgotten.
    writeFileSync(join(dir, 'quotas.333.json'), JSON.stringify({ version: 1, day: '2026-03-14', counts: [['bob', 'web1', 3]] }), {
      mode: 0o600,
    });
    const second = server(dir, 222, clock);
    expect(second.run(bob, web1, 4)).toBe(3);
    expect(second.run(alice, web1, 1)).toBe(0);
  });

  it('sums the counts of the servers that share the dir, each writing its own file', () => {
    const dir = stateDir();
    const clock = { now: T0 };
    const a = server(dir, 111, clock, [111, 222]);
    const b = server(dir, 222, clock, [111, 222]);
    expect(a.run(alice, web1, 2)).toBe(2);
    a.store.flush();
    clock.now += 1000;
    // b reads a's file again once a second: alice has one command left on web1.
    expect(b.run(alice, web1, 3)).toBe(1);
    expect(b.run(alice, web2, 3)).toBe(2);
    b.store.flush();
    clock.now += 1000;
    expect(a.limiter.check(alice, web2)?.message).toMatch(/5 commands a day on all hosts used up/);
    expect(readdirSync(dir).sort()).toEqual(['quotas.111.json', 'quotas.222.json']);
  });

  it('lets the commands that arrive together through up to the quota, and no further', async () => {
    const dir = stateDir();
    const clock = { now: T0 };
    const { limiter } = server(dir, 111, clock);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => Promise.resolve().then(() => limiter.check(alice, i % 2 ? web1 : web2))),
    );
    expect(results.filter((r) => r === undefined)).toHaveLength(5);
  });

  it('claims the file of an ended server once, even when a claimant died half-way', () => {
    const dir = stateDir();
    const clock = { now: T0 };
    writeFileSync(join(dir, 'quotas.111.json.claimed-by-999'), JSON.stringify({ version: 1, day: DAY, counts: [['alice', 'web1', 2]] }), {
      mode: 0o600,
    });
    writeFileSync(join(dir, 'quotas.222.json.tmp'), 'half a', { mode: 0o600 });
    const s = server(dir, 333, clock, [333]);
    expect(s.store.get(DAY, 'alice', 'web1')).toEqual({ all: 2, host: 2 });
    expect(readdirSync(dir).sort()).toEqual(['quotas.333.json']);
    // A server that starts while 333 runs finds the counts once, in 333's file.
    expect(server(dir, 444, clock, [333, 444]).store.get(DAY, 'alice', 'web1')).toEqual({ all: 2, host: 2 });
  });

  it('refuses to open over a file it cannot read, names it, and leaves it for a person to move aside', () => {
    const dir = stateDir();
    const clock = { now: T0 };
    const bad = join(dir, 'quotas.111.json');
    for (const [text, why] of [
      ['{"version":1,"day":"2026-03-14","counts":[["alice","web1",3]]', 'it is not JSON'],
      ['', 'it is empty'],
      ['{"version":2,"day":"2026-03-14","counts":[]}', 'version 2, written by another sshgate'],
      ['{"version":1,"day":"2026-03-14","counts":[["alice","web1",-3]]}', 'not a quota file of this sshgate'],
    ]) {
      writeFileSync(bad, text as string, { mode: 0o600 });
      expect(() => server(dir, 222, clock)).toThrow(
        expect.objectContaining({
          code: 'invalid_config',
          message: `the quota file ${bad} cannot be read (${why}); the commands it counts today would be forgotten, not serving`,
          hint: `if no sshgate is writing it, move it aside (mv ${bad} ${bad}.bad), accepting that its counts are lost, and start again`,
        }),
      );
      expect(readFileSync(bad, 'utf8')).toBe(text);
    }
    renameSync(bad, `${bad}.bad`);
    expect(server(dir, 222, clock).run(alice, web1, 4)).toBe(3);
  });

  it('refuses every command while another server’s file cannot be read, and counts again once it is moved aside', () => {
    const dir = stateDir();
    const clock = { now: T0 };
    const s = server(dir, 111, clock, [111, 222]);
    expect(s.run(alice, web1, 1)).toBe(1);
    writeFileSync(join(dir, 'quotas.222.json'), 'garbage', { mode: 0o600 });
    clock.now += 1000;
    const refused = s.limiter.check(alice, web1);
    expect(refused?.toJSON()).toMatchObject({
      code: 'invalid_config',
      message: expect.stringContaining(
        'cannot be read (it is not JSON); the commands it counts today would be forgotten, so no command is started until it can be read',
      ),
    });
    // Calls are still answered: an agent can read its tasks and cancel them.
    expect(s.limiter.checkCall(alice)).toBeUndefined();
    renameSync(join(dir, 'quotas.222.json'), join(dir, 'quotas.222.json.bad'));
    expect(s.run(alice, web1, 3)).toBe(2);
  });

  it('refuses a quota file or state dir that others can write, with the chmod to run', () => {
    const dir = stateDir();
    const clock = { now: T0 };
    writeFileSync(join(dir, 'quotas.111.json'), JSON.stringify({ version: 1, day: DAY, counts: [] }), { mode: 0o600 });
    chmodSync(join(dir, 'quotas.111.json'), 0o666);
    expect(() => server(dir, 222, clock)).toThrow(
      expect.objectContaining({
        code: 'invalid_config',
        message: expect.stringContaining('can be written by its group and others (mode 0666); another user could reset the quotas in it'),
        hint: `chmod go-w ${join(dir, 'quotas.111.json')}`,
      }),
    );
    const open = join(dir, 'open');
    mkdirSync(open, { mode: 0o777 });
    chmodSync(open, 0o777);
    expect(() => server(open, 222, clock)).toThrow(expect.objectContaining({ code: 'invalid_config', hint: `chmod go-w ${open}` }));
  });

  it('keeps at most so many principal and host pairs a day, and refuses a new pair beyond them', () => {
    const dir = stateDir();
    const clock = { now: T0 };
    const { limiter } = server(dir, 111, clock, [], { maxPairs: 2 });
    expect(limiter.check(alice, web1)).toBeUndefined();
    expect(limiter.check(bob, web1)).toBeUndefined();
    expect(limiter.check(bob, web2)?.toJSON()).toMatchObject({
      code: 'rate_limited',
      message: expect.stringContaining('already counts 2 principal and host pairs today'),
      retry_after_seconds: 14 * 3600,
    });
    expect(limiter.check(alice, web1)).toBeUndefined();
  });

  it('keeps counting in memory when the file cannot be written, says so, and writes it later', () => {
    const dir = stateDir();
    const clock = { now: T0 };
    const failures: string[] = [];
    const { store, run } = server(dir, 111, clock, [], { onWriteError: (e) => failures.push((e as NodeJS.ErrnoException).code ?? '') });
    mkdirSync(`${store.path}.tmp`);
    expect(run(alice, web1, 4)).toBe(3);
    store.flush();
    expect(failures).toEqual(['EISDIR']);
    rmSync(`${store.path}.tmp`, { recursive: true });
    store.close();
    expect(JSON.parse(readFileSync(store.path, 'utf8')).counts).toEqual([['alice', 'web1', 3]]);
  });
});
