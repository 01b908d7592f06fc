/**
 * Review 17b (adversarial): the transfer root against real sshd, over HTTP with two principals.
 * They failed before the fixes (each principal over HTTP now has a directory of its own under the
 * root, and a transfer holds its local file and its resolved remote path as well):
 *
 * 1. The transfer root is one directory shared by every principal of the server, so what one
 *    principal may read reaches another who may not (bob puts alice's download to a place bob
 *    may read), and what one principal downloads can be replaced by another before it is put.
 * 2. Two gets into the same local name (different remote paths, so `busy` does not see them)
 *    share `<local>.sshgate-partial`: the second removes the first's partial and creates its
 *    own; the first then links the second's (unverified, still growing) file in place and reports
 *    success with the sha256 of bytes that are not there.
 * 3. `busy` is keyed by the remote path as given: the same file through a symlinked directory is
 *    a second concurrent transfer into the same `.NAME.sshgate-partial` on the host.
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newToken, tokenHash } from '../../src/auth/tokens.js';
import { errorBody, removeConfig, taskReaches, toolCalls, writeConfig, type ToolCalls } from '../support/mcp.js';
import { startServeHttp, type ServeHttp } from '../support/serve-http.js';
import { startFleet, TEST_USER, type Fleet } from '../support/sshd.js';
import type { TransferResult } from '../../src/gateway/file-contract.js';

const MiB = 1024 * 1024;
const base = `/tmp/sshgate-review17b-root-${process.pid}`;
const vault = `${base}/vault`;
const drop = `${base}/drop`;
const data = `${base}/data`;
const ALICE = newToken().token;
const BOB = newToken().token;

const POLICY = `
limits: { max_file_bytes: 400000000 }
rules:
  - { name: tools, action: allow, commands: ["true"] }
files:
  - { name: alice's vault, action: allow, callers: [alice], read: ["${vault}", "${vault}/*"] }
  - { name: drop box, action: allow, read: ["${drop}", "${drop}/*"], write: ["${drop}/*"] }
  - { name: data, action: allow, read: ["${data}", "${data}/*", "${base}/link/*"], write: ["${data}/*", "${base}/link/*"] }
`;

/** What ssh_put_file and ssh_get_file answer. */
type Transfer = TransferResult;

let fleet: Fleet;
let dir: string;
let root: string;
let http: ServeHttp;
let aliceClient: Client;
let bobClient: Client;
let alice: ToolCalls;
let bob: ToolCalls;

const sha = (d: Buffer) => createHash('sha256').update(d).digest('hex');
const uid = () => Number(execFileSync('id', ['-u', TEST_USER], { encoding: 'utf8' }).trim());

async function connect(token: string): Promise<Client> {
  const c = new Client({ name: 'review17b', version: '1' });
  await c.connect(new StreamableHTTPClientTransport(new URL(http.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return c;
}

beforeAll(async () => {
  fleet = await startFleet(1, { subnet: 119 });
  for (const d of [base, vault, drop, data]) {
    mkdirSync(d, { recursive: true });
    chownSync(d, uid(), uid());
  }
  symlinkSync(data, `${base}/link`);
  writeFileSync(`${vault}/api.key`, `SECRET-${randomBytes(16).toString('hex')}\n`);
  chownSync(`${vault}/api.key`, uid(), uid());
  dir = writeConfig(fleet, { hosts: fleet.hosts, policy: POLICY });
  root = join(dir, 'root');
  mkdirSync(root, { mode: 0o700 });
  chmodSync(root, 0o700);
  writeFileSync(
    join(dir, 'tokens.yml'),
    `tokens:\n  - { id: alice-1, principal: alice, sha256: ${tokenHash(ALICE)} }\n  - { id: bob-1, principal: bob, sha256: ${tokenHash(BOB)} }\n`,
    { mode: 0o600 },
  );
  http = await startServeHttp(dir, { args: ['--tokens-file', join(dir, 'tokens.yml'), '--transfer-root', root] });
  aliceClient = await connect(ALICE);
  bobClient = await connect(BOB);
  alice = toolCalls(aliceClient);
  bob = toolCalls(bobClient);
}, 60_000);

afterAll(async () => {
  await aliceClient?.close();
  await bobClient?.close();
  await http?.stop();
  await fleet?.stop();
  if (dir) removeConfig(dir);
  rmSync(base, { recursive: true, force: true });
});

describe('review17b: the transfer root is shared by every principal', { timeout: 60_000 }, () => {
  it("bob, who may not read the vault, gets its key through alice's download in the shared root", async () => {
    // The policy holds for a direct read: bob may not read the vault.
    expect((await bob.fails('ssh_get_file', { alias: 'h1', path: `${vault}/api.key`, local: 'bob.key' })).code).toBe('policy_denied');
    // Alice downloads it for her own work.
    await alice.ok('ssh_get_file', { alias: 'h1', path: `${vault}/api.key`, local: 'api.key' });
    // Bob uploads alice's local file to a place bob may read: the policy's callers: rule is bypassed.
    const r = await bob.call('ssh_put_file', { alias: 'h1', local: 'api.key', path: `${drop}/leak.key` });
    const leaked = existsSync(`${drop}/leak.key`) ? readFileSync(`${drop}/leak.key`, 'utf8') : '';
    expect(leaked).not.toContain('SECRET-');
    expect(r.isError).toBe(true);
  });

  it("bob replaces what alice downloaded before she uploads it (another principal's bytes in her put)", async () => {
    writeFileSync(`${data}/app.conf`, 'alice reviewed this\n');
    chownSync(`${data}/app.conf`, uid(), uid());
    writeFileSync(`${drop}/evil.conf`, 'bob chose this\n');
    chownSync(`${drop}/evil.conf`, uid(), uid());
    const got = await alice.ok<Transfer>('ssh_get_file', { alias: 'h1', path: `${data}/app.conf`, local: 'app.conf' });
    // Bob may only touch the drop box, yet he can overwrite alice's local file.
    // Bob's get lands in his own directory; alice's download stays what she verified.
    await bob.ok('ssh_get_file', { alias: 'h1', path: `${drop}/evil.conf`, local: 'app.conf', overwrite: true });
    expect(sha(readFileSync(join(root, 'alice', 'app.conf')))).toBe(got.sha256);
    expect(readFileSync(join(root, 'bob', 'app.conf'), 'utf8')).toBe('bob chose this\n');
  });
});

describe('review17b: two gets into one local name', { timeout: 120_000 }, () => {
  it('the first get reports success with a sha256 that the local file does not have', async () => {
    const small = randomBytes(24 * MiB);
    const big = randomBytes(160 * MiB);
    writeFileSync(`${data}/small.bin`, small);
    writeFileSync(`${data}/big.bin`, big);
    chownSync(`${data}/small.bin`, uid(), uid());
    chownSync(`${data}/big.bin`, uid(), uid());
    // Two remote paths, so `busy` (alias + remote path) does not see them; one local name.
    const a = await alice.ok<Transfer>('ssh_get_file', { alias: 'h1', path: `${data}/small.bin`, local: 'same.bin', wait_seconds: 0 });
    const second = await alice.call('ssh_get_file', { alias: 'h1', path: `${data}/big.bin`, local: 'same.bin', wait_seconds: 0 });
    // The local file is held by the first get: the second is refused at once.
    expect(second.isError ? errorBody(second).code : 'started').toBe('busy');
    await taskReaches(alice, a.task_id, 'succeeded', { polls: 600, every: 50 });
    const out = JSON.parse((await alice.ok<{ stdout: string }>('ssh_get_task_output', { task_id: a.task_id })).stdout.trim()) as Transfer;
    expect(out.sha256).toBe(sha(small));
    // The first get said same.bin is small.bin (sha256 verified at both ends); it must be.
    expect(sha(readFileSync(join(root, 'alice', 'same.bin')))).toBe(sha(small));
  });
});

describe('review17b: busy is keyed by the path as given', { timeout: 120_000 }, () => {
  it('a put through a symlinked directory runs beside a put of the same file', async () => {
    writeFileSync(join(root, 'alice', 'p1.bin'), randomBytes(64 * MiB));
    writeFileSync(join(root, 'alice', 'p2.bin'), randomBytes(64 * MiB));
    const one = await alice.ok<Transfer>('ssh_put_file', { alias: 'h1', local: 'p1.bin', path: `${data}/target.bin`, wait_seconds: 0 });
    // The same remote file, spelt through the symlink: it must be `busy`, not a second writer of one partial.
    const two = await alice.call('ssh_put_file', { alias: 'h1', local: 'p2.bin', path: `${base}/link/target.bin`, wait_seconds: 0 });
    const code = two.isError ? errorBody(two).code : 'started';
    await alice.call('ssh_cancel', { task_id: one.task_id });
    if (!two.isError) await alice.call('ssh_cancel', { task_id: (two.structuredContent as Transfer).task_id });
    expect(code).toContain('busy');
  });
});
