import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const FIXTURES = 'test/fixtures/broken';

function sshgate(args: string[], cwd = process.cwd()) {
  const r = spawnSync(process.execPath, [join(process.cwd(), 'dist/cli.js'), ...args], { cwd, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('the sshgate binary', () => {
  it('checks the examples, exits 0 and writes nothing to stderr', () => {
    const r = sshgate(['check']);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toMatch(/\nOK\n$/);
  });

  it.each(readdirSync(FIXTURES))('refuses the broken fixture "%s" with file:line:column and exit 1', (name) => {
    const expected = readFileSync(join(FIXTURES, name, 'expect.txt'), 'utf8').trim();
    const r = sshgate(['check', '--config', 'config', '--policy', 'policies'], join(FIXTURES, name));
    expect(r.code).toBe(1);
    expect(r.err).toContain(expected);
    expect(r.out).toBe('');
  });

  it('exits 0, 1 and 2 from plan for allowed, denied and bad usage', () => {
    expect(sshgate(['plan', 'web1', '--', 'uptime']).code).toBe(0);
    expect(sshgate(['plan', 'web1', '--', 'uptime; reboot']).code).toBe(1);
    expect(sshgate(['plan', 'web1']).code).toBe(2);
  });

  it('reads the config and policy locations from the environment', () => {
    const r = spawnSync(process.execPath, ['dist/cli.js', 'check'], {
      encoding: 'utf8',
      env: { ...process.env, SSHGATE_CONFIG_DIR: join(FIXTURES, 'unknown-key', 'config'), SSHGATE_POLICY: 'policies' },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('servers.yml:5:5: unknown key "prot"');
  });
});
