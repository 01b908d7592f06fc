import { describe, expect, it } from 'vitest';
import { commandHash, parseTaskId, TaskIdFactory } from '../../../src/tasks/ids.js';

describe('task ids', () => {
  it('are alias:hash:microseconds, the hash being the first 12 hex digits of sha256(command)', () => {
    const ids = new TaskIdFactory(() => 1_700_000_000_000_000n);
    expect(ids.next('web1', 'uptime')).toBe(`web1:${commandHash('uptime')}:1700000000000000`);
    expect(commandHash('uptime')).toMatch(/^[0-9a-f]{12}$/);
  });

  it('bump the timestamp when two tasks of one host would collide, but not across hosts', () => {
    const ids = new TaskIdFactory(() => 5n);
    expect([ids.next('a', 'x'), ids.next('a', 'x'), ids.next('b', 'x')].map((id) => id.split(':')[2])).toEqual(['5', '6', '5']);
  });

  it('accept any valid alias, dots included, and parse back', () => {
    const ids = new TaskIdFactory();
    const id = ids.next('db.prod-1_x', 'df -h');
    expect(parseTaskId(id)).toMatchObject({ alias: 'db.prod-1_x', hash: commandHash('df -h') });
  });

  it('tell a malformed id apart', () => {
    for (const bad of [
      '',
      'web1',
      'web1:abc:1',
      'web1:0123456789ab',
      'we b1:0123456789ab:1',
      'a:0123456789AB:1',
      'a:0123456789ab:1:2',
      'a:0123456789ab:-1',
    ]) {
      expect(parseTaskId(bad), bad).toBeUndefined();
    }
  });
});
