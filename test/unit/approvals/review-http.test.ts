/**
 * Review of issue 16 (adversarial): the /approvals endpoint. An approver's malformed path is an
 * internal error (500, an error logged with a stack) instead of a 400/404. Failed on the code
 * under review; passes since its fix. (Held: Host and Origin checks, 401/403, 405 for other methods, 413, path tricks
 * such as /approvals/../mcp and /approvals%2Fx.)
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newToken, tokenHash } from '../../../src/auth/tokens.js';
import { ed25519KeyPair } from '../../../src/demo/keys.js';
import { writeConfig } from '../../support/mcp.js';
import { startServeHttp, type ServeHttp } from '../../support/serve-http.js';

const CAROL = newToken().token;
let http: ServeHttp;

beforeAll(async () => {
  const fleet = mkdtempSync(join(tmpdir(), 'sshgate-review-fleet-'));
  const userKeyPath = join(fleet, 'key');
  writeFileSync(userKeyPath, ed25519KeyPair().private, { mode: 0o600 });
  chmodSync(userKeyPath, 0o600);
  const knownHostsPath = join(fleet, 'known_hosts');
  writeFileSync(knownHostsPath, '');
  const dir = writeConfig(
    { user: 'deploy', userKeyPath, knownHostsPath },
    {
      hosts: [{ alias: 'h1', host: '192.0.2.1', port: 22, tags: ['t'] }],
      policy: 'rules:\n  - { name: r, action: ask, commands: ["systemctl restart *"] }\n',
    },
  );
  writeFileSync(join(dir, 'tokens.yml'), `tokens:\n  - { id: c, principal: carol, roles: [approver], sha256: ${tokenHash(CAROL)} }\n`, {
    mode: 0o600,
  });
  http = await startServeHttp(dir, { args: ['--tokens-file', join(dir, 'tokens.yml')] });
}, 60_000);
afterAll(async () => {
  await http?.stop();
});

describe('review 16: POST /approvals/ID', () => {
  it('a malformed percent-encoding in the id is a client error, not an internal one', async () => {
    const res = await fetch(`http://127.0.0.1:${http.port}/approvals/%E0%A4%A`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CAROL}`, 'content-type': 'application/json' },
      body: '{"decision":"approve"}',
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(http.log()).not.toMatch(/URIError/);
  }, 30_000);
});
