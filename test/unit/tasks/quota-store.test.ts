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
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadPolicy } from '../../../src/config/load-policy.js';
import type { Principal } from '../../../src/principal.js';
import { RateLimiter } from '../../../src/policy/rate-limits.js';
import { QuotaStore, type QuotaStoreOptions } from '../../../src/tasks/quota-store.js';
import { writeTree } from '../../support/policy.js';

/**
 * The store's asynchronous writes, as they happen on disk: node:fs/promises as it is, seen from
 * here. A test can hold renames (a write in flight) and fail one; the store itself is not mocked.
 */
const disk = vi.hoisted(() => ({
  /** Temporary files opened for writing. */
  opens: [] as string[],
  /** What each rename put in place, in the order they completed. */
  renamed: [] as string[],
  /** Writes begun and not ended (renamed, or their temporary file removed), and the most at once. */
  inFlight: 0,
  maxInFlight: 0,
  /** A rename waits for this before it happens. */
  hold: undefined as Promise<void> | undefined,
  /** Renames waiting for `hold`. */
  held: 0,
  /** Delay before each rename, in ms (the order stress test). */
  delay: undefined as (() => number) | undefined,
  /** The next rename fails with this. */
  failRename: undefined as Error | undefined,
}));
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const ended = () => void (disk.inFlight -= 1);
  return {
    ...real,
    open: async (...args: Parameters<typeof real.open>) => {
      disk.opens.push(String(args[0]));
      disk.inFlight += 1;
      disk.maxInFlight = Math.max(disk.maxInFlight, disk.inFlight);
      return real.open(...args);
    },
    rename: async (from: string, to: string) => {
      if (disk.hold) {
        disk.held += 1;
        await disk.hold;
        disk.held -= 1;
      }
      const ms = disk.delay?.();
      if (ms !== undefined) await new Promise((r) => setTimeout(r, ms));
      const failure = disk.failRename;
      disk.failRename = undefined;
      if (failure) throw failure;
      await real.rename(from, to);
      disk.renamed.push(await real.readFile(to, 'utf8'));
      ended();
    },
    rm: async (...args: Parameters<typeof real.rm>) => {
      if (String(args[0]).endsWith('.tmp')) ended();
      return real.rm(...args);
    },
  };
});

/** Holds every rename until the returned function is called. */
function holdRenames(): () => void {
  let release!: () => void;
  disk.hold = new Promise<void>((r) => (release = r));
  return () => {
    disk.hold = undefined;
    release();
  };
}

/** Waits until `ok()`, at most 10 s: a write waits for the disk, however busy. */
async function until(ok: () => boolean): Promise<void> {
  for (const end = Date.now() + 10_000; !ok() && Date.now() < end;) await new Promise((r) => setTimeout(r, 1));
  expect(ok()).toBe(true);
}

const turn = () => new Promise((r) => setImmediate(r));

const dirs: string[] = [];
afterEach(() => {
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
  Object.assign(disk, {
    opens: [],
    renamed: [],
    inFlight: 0,
    maxInFlight: 0,
    hold: undefined,
    held: 0,
    delay: undefined,
    failRename: undefined,
  });
});
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
  it('keeps the day’s counts across a restart: a principal over its quota stays over it', async () => {
    const dir = stateDir();
    const clock = { now: T0 };
    const first = server(dir, 111, clock);
    expect(first.run(alice, web1, 4)).toBe(3);
    expect(first.run(alice, web2, 4)).toBe(2);
    await first.store.close();
    // pid 111 has ended: the next server claims its file and carries the counts on.
    const second = server(dir, 222, clock);
    expect(second.limiter.check(alice, web2)?.toJSON()).toMatchObject({ code: 'rate_limited', retry_after_seconds: 14 * 3600 });
    expect(second.run(bob, web1, 4)).toBe(3);
    await second.store.close();
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
    await turn();
    // The write began at that turn, off the event loop: flush waits for it and writes nothing more.
    await store.flush();
    expect(JSON.parse(readFileSync(store.path, 'utf8')).counts).toEqual([
      ['alice', 'web1', 2],
      ['alice', 'web2', 2],
    ]);
    expect(disk.opens).toEqual([`${store.path}.next.tmp`]);
    await store.close();
    expect(disk.opens).toHaveLength(1);
  });

  it('begins a write at most once per writeEveryMs, and writes what is left when it closes', async () => {
    const dir = stateDir();
    const clock = { now: T0 };
    const { store, run } = server(dir, 111, clock, [], { writeEveryMs: 1500 });
    const counts = () => (JSON.parse(readFileSync(store.path, 'utf8')) as { counts: [string, string, number][] }).counts;
    expect(run(alice, web1, 1)).toBe(1);
    await until(() => disk.renamed.length === 1);
    expect(run(alice, web1, 1)).toBe(1);
    await turn();
    await new Promise((r) => setTimeout(r, 50));
    // Counted, not yet written: the second write waits for the interval.
    expect(counts()).toEqual([['alice', 'web1', 1]]);
    expect(run(alice, web2, 1)).toBe(1);
    await until(() => disk.renamed.length === 2);
    expect(counts()).toEqual([
      ['alice', 'web1', 2],
      ['alice', 'web2', 1],
    ]);
    // Within the next interval: close() does not wait for it.
    expect(run(bob, web1, 1)).toBe(1);
    await store.close();
    expect(disk.renamed).toHaveLength(3);
    expect(counts()).toContainEqual(['bob', 'web1', 1]);
  });

  it('writes what is counted while a write is in flight in one more write right after it', async () => {
    const dir = stateDir();
    const clock = { now: T0 };
    const { store, run } = server(dir, 111, clock);
    const release = holdRenames();
    expect(run(alice, web1, 1)).toBe(1);
    await until(() => disk.held === 1);
    // Three more turns, each with a command, while the first write waits to be renamed.
    for (const [p, host] of [
      [alice, web2],
      [bob, web1],
      [bob, web2],
    ] as const) {
      expect(run(p, host, 1)).toBe(1);
      await turn();
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(disk.opens).toHaveLength(1);
    expect(existsSync(store.path)).toBe(false);
    release();
    await store.flush();
    expect(disk.opens).toHaveLength(2);
    expect(disk.renamed.map((t) => JSON.parse(t).counts)).toEqual([
      [['alice', 'web1', 1]],
      [
        ['alice', 'web1', 1],
        ['alice', 'web2', 1],
        ['bob', 'web1', 1],
        ['bob', 'web2', 1],
      ],
    ]);
    expect(disk.maxInFlight).toBe(1);
    expect(readdirSync(dir)).toEqual(['quotas.111.json']);
  });

  it('never puts older counts back on disk, whatever the writes take', async () => {
    const dir = stateDir();
    const clock = { now: T0 };
    const limits = loadPolicy(
      join(
        writeTree({ 'p.yml': 'limits: { commands_per_day: 100000, host_commands_per_day: 100000, host_commands_per_minute: 100000 }\n' }),
        'p.yml',
      ),
    );
    // Every turn may write: the writes overlap as often as they can.
    const store = QuotaStore.open(dir, { pid: 111, isAlive: () => false, now: () => clock.now, writeEveryMs: 0 });
    const limiter = new RateLimiter({ policy: () => limits, days: store, now: () => clock.now });
    // The first writes take longest: a write that began earlier would end later, were two in flight.
    let writes = 0;
    disk.delay = () => Math.max(0, 8 - writes++);
    let counted = 0;
    for (let i = 0; i < 60; i++) {
      for (let j = 0; j < i % 4; j++) {
        expect(limiter.check(i % 3 ? alice : bob, i % 2 ? web1 : web2)).toBeUndefined();
        counted++;
      }
      await (i % 5 ? turn() : new Promise((r) => setTimeout(r, 2)));
    }
    await store.close();
    const totals = disk.renamed.map((t) => (JSON.parse(t) as { counts: [string, string, number][] }).counts.reduce((a, c) => a + c[2], 0));
    expect(totals.length).toBeGreaterThan(1);
    expect(totals.length).toBeLessThan(60);
    for (let i = 1; i < totals.length; i++) expect(totals[i]).toBeGreaterThan(totals[i - 1] as number);
    expect(totals.at(-1)).toBe(counted);
    expect(disk.maxInFlight).toBe(1);
    expect(store.get(DAY, 'alice', 'web1').all + store.get(DAY, 'bob', 'web1').all).toBe(counted);
  });

  it('leaves the latest counts on disk at close, after the write in flight', async () => {
    const dir = stateDir();
    const clock = { now: T0 };
    const first = server(dir, 111, clock);
    const release = holdRenames();
    expect(first.run(alice, web1, 1)).toBe(1);
    await until(() => disk.held === 1);
    expect(first.run(alice, web2, 2)).toBe(2);
    // Closed in the same turn: the scheduled write is not left to a turn that may never come.
    let closed = false;
    const closing = first.store.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(false);
    expect(disk.opens).toHaveLength(1);
    release();
    await closing;
    expect(JSON.parse(readFileSync(first.store.path, 'utf8')).counts).toEqual([
      ['alice', 'web1', 1],
      ['alice', 'web2', 2],
    ]);
    expect(readdirSync(dir)).toEqual(['quotas.111.json']);
    // Closed with nothing in flight, right after a command: that command is on disk too.
    expect(first.run(bob, web1, 1)).toBe(1);
    await first.store.close();
    expect(disk.opens).toHaveLength(3);
    const second = server(dir, 222, clock);
    expect(second.store.get(DAY, 'alice', 'web1')).toEqual({ all: 3, host: 1 });
    expect(second.store.get(DAY, 'bob', 'web1')).toEqual({ all: 1, host: 1 });
  });

  it('starts again at 00:00 UTC, and carries only today’s counts over a restart', async () => {
    const dir = stateDir();
    const clock = { now: Date.UTC(2026, 2, 14, 23, 59, 59) };
    const first = server(dir, 111, clock);
    expect(first.run(alice, web1, 4)).toBe(3);
    clock.now += 1000;
    expect(first.run(alice, web1, 4)).toBe(3);
    await first.store.close();
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

  it('sums the counts of the servers that share the dir, each writing its own file', async () => {
    const dir = stateDir();
    const clock = { now: T0 };
    const a = server(dir, 111, clock, [111, 222]);
    const b = server(dir, 222, clock, [111, 222]);
    expect(a.run(alice, web1, 2)).toBe(2);
    await a.store.flush();
    clock.now += 1000;
    // b reads a's file again once a second: alice has one command left on web1.
    expect(b.run(alice, web1, 3)).toBe(1);
    expect(b.run(alice, web2, 3)).toBe(2);
    await b.store.flush();
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

  it('keeps counting in memory when the file cannot be written, says so, and writes it later', async () => {
    const dir = stateDir();
    const clock = { now: T0 };
    const failures: string[] = [];
    const { store, run } = server(dir, 111, clock, [], { onWriteError: (e) => failures.push((e as NodeJS.ErrnoException).code ?? '') });
    mkdirSync(`${store.path}.next.tmp`);
    expect(run(alice, web1, 4)).toBe(3);
    await store.flush();
    expect(failures).toEqual(['EISDIR']);
    expect(existsSync(store.path)).toBe(false);
    rmSync(`${store.path}.next.tmp`, { recursive: true });
    await store.close();
    expect(JSON.parse(readFileSync(store.path, 'utf8')).counts).toEqual([['alice', 'web1', 3]]);
  });

  it('reports a write that fails half-way, keeps the old file, and writes the counts with the next command', async () => {
    const dir = stateDir();
    const clock = { now: T0 };
    const failures: string[] = [];
    const { store, run } = server(dir, 111, clock, [], { onWriteError: (e) => failures.push(e.message) });
    expect(run(alice, web1, 1)).toBe(1);
    await store.flush();
    disk.failRename = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    expect(run(alice, web1, 1)).toBe(1);
    await turn();
    await store.flush();
    expect(failures).toEqual(['ENOSPC: no space left on device']);
    // The old file stands, whole, and the temporary file is gone.
    expect(JSON.parse(readFileSync(store.path, 'utf8')).counts).toEqual([['alice', 'web1', 1]]);
    expect(readdirSync(dir)).toEqual(['quotas.111.json']);
    // The store still counts, and the next command's write carries the count that failed.
    expect(run(bob, web2, 1)).toBe(1);
    await turn();
    await store.flush();
    expect(JSON.parse(readFileSync(store.path, 'utf8')).counts).toEqual([
      ['alice', 'web1', 2],
      ['bob', 'web2', 1],
    ]);
    expect(failures).toHaveLength(1);
    expect(disk.maxInFlight).toBe(1);
  });

  it('cleans up what an ended server left of an asynchronous write', () => {
    const dir = stateDir();
    const clock = { now: T0 };
    writeFileSync(join(dir, 'quotas.222.json.next.tmp'), 'half a', { mode: 0o600 });
    writeFileSync(join(dir, 'quotas.333.json.next.tmp'), 'half a', { mode: 0o600 });
    server(dir, 111, clock, [111, 333]);
    expect(readdirSync(dir).sort()).toEqual(['quotas.333.json.next.tmp']);
  });
});
