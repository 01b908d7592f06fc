/** The request_id table: per principal, bound to the call, bounded per principal and in all. */
import { describe, expect, it } from 'vitest';
import { MAX_REQUEST_IDS_PER_PRINCIPAL, RequestIds } from '../../../src/gateway/request-ids.js';

const started = (id: string) => [{ alias: 'h1', taskId: id }];
const call = { alias: 'h1', command: 'uptime' };

describe('RequestIds', () => {
  it("never lets one principal's keys push out another's", () => {
    const ids = new RequestIds();
    ids.remember('alice', 'mine', 'ssh_run', call, started('a-task'), 60_000);
    for (let i = 0; i < MAX_REQUEST_IDS_PER_PRINCIPAL + 50; i++) ids.remember('bob', `k${i}`, 'ssh_run', call, started(`b${i}`), 60_000);
    expect(ids.recall('alice', 'mine', 'ssh_run', call)).toEqual(started('a-task'));
    // Bob's own oldest went to make room for his newest.
    expect(ids.recall('bob', 'k0', 'ssh_run', call)).toBeUndefined();
    expect(ids.recall('bob', `k${MAX_REQUEST_IDS_PER_PRINCIPAL + 49}`, 'ssh_run', call)).toBeDefined();
  });

  it('forgets a key at its time, and keeps none for a call that started nothing', () => {
    let now = 0;
    const ids = new RequestIds(() => now);
    ids.remember('alice', 'k', 'ssh_run', call, started('t'), 1000);
    ids.remember('alice', 'denied', 'ssh_run_on_tag', call, [{ alias: 'h1' }], 1000);
    expect(ids.recall('alice', 'denied', 'ssh_run_on_tag', call)).toBeUndefined();
    now = 999;
    expect(ids.recall('alice', 'k', 'ssh_run', call)).toBeDefined();
    now = 1000;
    expect(ids.recall('alice', 'k', 'ssh_run', call)).toBeUndefined();
  });

  it('binds a key to its tool and arguments, env names in any order, how to answer aside', () => {
    const ids = new RequestIds();
    const args = { ...call, env: { A: '1', B: '2' }, wait_seconds: 5 };
    ids.remember('alice', 'k', 'ssh_run', args, started('t'), 60_000);
    expect(ids.recall('alice', 'k', 'ssh_run', { ...call, env: { B: '2', A: '1' }, max_bytes: 10 })).toEqual(started('t'));
    expect(() => ids.recall('alice', 'k', 'ssh_run_async', args)).toThrow(/already used for another call/);
    expect(() => ids.recall('alice', 'k', 'ssh_run', { ...args, command: 'reboot' })).toThrow(/already used for another call/);
  });
});
