import { describe, expect, it } from 'vitest';
import type { HostEntry } from '../../../src/config/file-formats.js';
import type { Inventory } from '../../../src/config/load-inventory.js';
import { scanPlan } from '../../../src/gateway/keyscan.js';

function inventory(hosts: { alias: string; jump?: string }[]): Inventory {
  const entries = hosts.map((h, i): HostEntry => ({
    alias: h.alias,
    host: `10.0.0.${i + 1}`,
    port: 22,
    credentials: 'c',
    tags: [],
    description: '',
    shell: 'bash',
    ...(h.jump ? { jump: h.jump } : {}),
  }));
  return { hosts: entries, credentials: [], byAlias: new Map(entries.map((h) => [h.alias, h])), credentialByName: new Map() };
}

const plan = (inv: Inventory, asked: string[], known: string[] = []) =>
  scanPlan(
    inv,
    asked.map((a) => inv.byAlias.get(a) as HostEntry),
    (h) => known.includes(h.alias),
  ).map((level) => level.map((s) => `${s.host.alias}${s.asked ? '' : '(hop)'}<${s.hops.join(',')}>`));

describe('the order of a key scan', () => {
  const inv = inventory([
    { alias: 'web2', jump: 'inner' },
    { alias: 'bastion' },
    { alias: 'inner', jump: 'bastion' },
    { alias: 'web1', jump: 'bastion' },
    { alias: 'db' },
  ]);

  it('scans the hosts reached directly first, then a level per hop, each level in inventory order', () => {
    expect(plan(inv, ['web2', 'bastion', 'inner', 'web1', 'db'])).toEqual([
      ['bastion<>', 'db<>'],
      ['inner<bastion>', 'web1<bastion>'],
      ['web2<bastion,inner>'],
    ]);
  });

  it('scans the hops of a host asked for that known_hosts lacks, first, and skips those it knows', () => {
    expect(plan(inv, ['web2'])).toEqual([['bastion(hop)<>'], ['inner(hop)<bastion>'], ['web2<bastion,inner>']]);
    expect(plan(inv, ['web2'], ['bastion'])).toEqual([['inner(hop)<bastion>'], ['web2<bastion,inner>']]);
    expect(plan(inv, ['web2'], ['bastion', 'inner'])).toEqual([['web2<bastion,inner>']]);
  });

  it('scans a host asked for even when it is known, and a shared hop once', () => {
    expect(plan(inv, ['web1', 'inner'], ['bastion', 'inner', 'web1'])).toEqual([['inner<bastion>', 'web1<bastion>']]);
  });
});
