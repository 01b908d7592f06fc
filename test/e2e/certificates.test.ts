/**
 * OpenSSH certificates against real sshd: hosts that present host certificates (HostCertificate)
 * and accept user certificates (TrustedUserCAKeys), both CAs made in this test by ssh-keygen. The
 * gate's known_hosts holds no host key at all, only @cert-authority lines.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprint } from '../../src/ssh/host-keys.js';
import { keygen, signKey } from '../support/certificates.js';
import { removeConfig, startGate, writeConfig, type Gate, type GateConfig } from '../support/mcp.js';
import { tempDir } from '../support/policy.js';
import { startFleet, TEST_USER, type Fleet } from '../support/sshd.js';

let work: string;
let hostCa: ReturnType<typeof keygen>;
let otherCa: ReturnType<typeof keygen>;
let userCa: ReturnType<typeof keygen>;
/** Two hosts, one sshd: its certificate names the first host's address only. */
let fleet: Fleet;
/** One host whose host certificate has expired. */
let expiredFleet: Fleet;
/** One host with an RSA host key and its certificate (the rsa-sha2-512-cert-v01 exchange). */
let rsaFleet: Fleet;
/** One host with an ECDSA (nistp256) host key and its certificate. */
let ecdsaFleet: Fleet;
let agentSock: string;
let agentPid = '';
const gates: Gate[] = [];

/** A key of `type` with a user certificate beside it, as `<name>` and `<name>-cert.pub` to copy into the keys dir. */
function userKey(name: string, o: Parameters<typeof signKey>[2], type = 'ed25519', bits?: number): { key: string; cert: string } {
  const k = keygen(work, name, type, bits);
  const { path } = signKey(userCa.path, `${k.path}.pub`, { id: `${name}-id`, ...o });
  return { key: k.path, cert: path };
}

beforeAll(async () => {
  work = tempDir('sshgate-certs-');
  hostCa = keygen(work, 'host_ca');
  otherCa = keygen(work, 'other_ca');
  userCa = keygen(work, 'user_ca');
  const trustedUserCaKeys = `${userCa.path}.pub`;
  fleet = await startFleet(2, {
    subnet: 170,
    hostCertificate: { ca: hostCa.path, principals: (h) => [h[0]?.host ?? ''] },
    trustedUserCaKeys,
  });
  expiredFleet = await startFleet(1, {
    subnet: 171,
    hostCertificate: { ca: hostCa.path, principals: (h) => [h[0]?.host ?? ''], validity: '20200101:20200102' },
    trustedUserCaKeys,
  });
  rsaFleet = await startFleet(1, {
    subnet: 172,
    hostKeyType: 'rsa',
    hostCertificate: { ca: hostCa.path, principals: (h) => [h[0]?.host ?? ''] },
  });
  ecdsaFleet = await startFleet(1, {
    subnet: 173,
    hostKeyType: 'ecdsa',
    hostCertificate: { ca: hostCa.path, principals: (h) => [h[0]?.host ?? ''] },
  });
  // The gates log in with the first fleet's key everywhere.
  for (const f of [rsaFleet, ecdsaFleet]) appendFileSync(join(f.dir, 'authorized_keys'), readFileSync(`${fleet.userKeyPath}.pub`));
}, 60_000);

afterAll(async () => {
  await Promise.all(gates.map((g) => g.close()));
  for (const g of gates) removeConfig(g.dir);
  if (agentPid) execFileSync('kill', [agentPid]);
  await fleet?.stop();
  await expiredFleet?.stop();
  await rsaFleet?.stop();
  await ecdsaFleet?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A gate whose known_hosts is `knownHosts` (no host key: CA lines only), on the fleet's hosts and credentials. */
async function gateWith(knownHosts: string, c: Omit<GateConfig, 'knownHosts'>, env: Record<string, string> = {}): Promise<Gate> {
  const gate = await startGate(writeConfig(fleet, { ...c, knownHosts }), env);
  gates.push(gate);
  return gate;
}

const h = () => fleet.hosts[0] as Fleet['hosts'][number];
const sshdLog = (f: Fleet) => readFileSync(join(f.dir, 'sshd.0.log'), 'utf8');

describe('host certificates, with only @cert-authority lines in known_hosts', () => {
  let gate: Gate;
  beforeAll(async () => {
    gate = await gateWith(`@cert-authority * ${hostCa.pub}\n`, {
      hosts: [
        { ...h(), alias: 'certified' },
        { ...(fleet.hosts[1] as Fleet['hosts'][number]), alias: 'misnamed' },
        { ...(expiredFleet.hosts[0] as Fleet['hosts'][number]), alias: 'expired-host' },
        { ...(rsaFleet.hosts[0] as Fleet['hosts'][number]), alias: 'rsa-host' },
        { ...(ecdsaFleet.hosts[0] as Fleet['hosts'][number]), alias: 'ecdsa-host' },
      ],
    });
  });

  it('log in to a host that presents a certificate of a listed CA naming it', async () => {
    const r = await gate.ok<{ stdout: string }>('ssh_run', { alias: 'certified', command: 'echo certified' });
    expect(r.stdout).toBe('certified\n');
  });

  it('log in to a host whose certificate is of an RSA key, over rsa-sha2-512-cert-v01', async () => {
    const r = await gate.ok<{ stdout: string }>('ssh_run', { alias: 'rsa-host', command: 'echo rsa' });
    expect(r.stdout).toBe('rsa\n');
  });

  it('log in to a host whose certificate is of an ECDSA key, over ecdsa-sha2-nistp256-cert-v01', async () => {
    const r = await gate.ok<{ stdout: string }>('ssh_run', { alias: 'ecdsa-host', command: 'echo ecdsa' });
    // known_hosts holds CA lines only: the host's plain key could not have been taken instead.
    expect(r.stdout).toBe('ecdsa\n');
  });

  it('refuse a host whose certificate does not name the host connected to', async () => {
    const e = await gate.fails('ssh_run', { alias: 'misnamed', command: 'echo never' });
    expect(e.code).toBe('host_key_mismatch');
    expect(e.message).toContain(`do not include "${fleet.hosts[1]?.host}"`);
    expect(e.message).toContain('key id "sshgate-test-host"');
    expect(e.hint).toContain('line 1 trusts a CA');
  });

  it('refuse a host whose certificate has expired', async () => {
    const e = await gate.fails('ssh_run', { alias: 'expired-host', command: 'echo never' });
    expect(e.code).toBe('host_key_mismatch');
    expect(e.message).toContain('it expired at 2020-01-02T00:00:00Z');
  });

  it('refuse a host certificate signed by a CA that known_hosts does not list', async () => {
    const other = await gateWith(`@cert-authority * ${otherCa.pub}\n`, { hosts: [{ ...h(), alias: 'certified' }] });
    const e = await other.fails('ssh_run', { alias: 'certified', command: 'echo never' });
    expect(e.code).toBe('host_key_mismatch');
    expect(e.message).toContain(`signed by the CA ${fingerprint(hostCa.blob)}`);
  });

  it('refuse a host whose CA is @revoked, and one whose own key is', async () => {
    const hostKey = fleet.hostPublicKey;
    const revoked = await gateWith(
      `@cert-authority * ${hostCa.pub}\n@revoked * ${hostCa.pub}\n@revoked [${fleet.hosts[1]?.host}]:${h().port} ${hostKey}\n`,
      {
        hosts: [
          { ...h(), alias: 'by-revoked-ca' },
          { ...(fleet.hosts[1] as Fleet['hosts'][number]), alias: 'revoked-key' },
        ],
      },
    );
    const ca = await revoked.fails('ssh_run', { alias: 'by-revoked-ca', command: 'echo never' });
    expect(ca.code).toBe('host_key_mismatch');
    expect(ca.message).toContain(`signed by a revoked CA (${fingerprint(hostCa.blob)})`);
    const key = await revoked.fails('ssh_run', { alias: 'revoked-key', command: 'echo never' });
    expect(key.code).toBe('host_key_mismatch');
    expect(key.message).toContain('offered a revoked key');
  });
});

describe('a host certificate that expires while its connection is pooled', () => {
  it('ends the connection at the next key re-exchange: the host is refused until it shows a valid one', async () => {
    // sshd re-exchanges keys every 2 s; the certificate is valid for 12 s from its signing.
    const lapsing = await startFleet(1, {
      subnet: 176,
      hostCertificate: { ca: hostCa.path, principals: (hs) => [hs[0]?.host ?? ''], validity: '-1m:+12s' },
      sshdConfig: ['RekeyLimit default 2s'],
    });
    const expires = Date.now() + 12_000;
    appendFileSync(join(lapsing.dir, 'authorized_keys'), readFileSync(`${fleet.userKeyPath}.pub`));
    try {
      const g = await gateWith(`@cert-authority * ${hostCa.pub}\n`, {
        hosts: [{ ...(lapsing.hosts[0] as Fleet['hosts'][number]), alias: 'lapsing' }],
      });
      const before = await g.ok<{ stdout: string }>('ssh_run', { alias: 'lapsing', command: 'echo before' });
      expect(before.stdout).toBe('before\n');
      // Past the certificate's end and two re-exchanges after it, well within the pool's idle time.
      await new Promise((r) => setTimeout(r, Math.max(0, expires - Date.now()) + 5_000));
      // No command runs any more. On a loaded machine a call can still meet the connection in the
      // re-exchange that ends it, and that command is lost; the host is refused from then on.
      let e = await g.fails('ssh_run', { alias: 'lapsing', command: 'echo after' });
      for (let tries = 1; e.code === 'lost' && tries < 5; tries++)
        e = await g.fails('ssh_run', { alias: 'lapsing', command: 'echo after' });
      expect(e.code).toBe('host_key_mismatch');
      expect(e.message).toContain('it expired at');
    } finally {
      await lapsing.stop();
    }
  }, 60_000);
});

describe('user certificates', () => {
  let gate: Gate;
  beforeAll(async () => {
    const good = userKey('cert_user', { principals: [TEST_USER], validity: '+1d' });
    const ecdsa = userKey('cert_ecdsa', { principals: [TEST_USER] }, 'ecdsa', 384);
    const rsa = userKey('cert_rsa', { principals: [TEST_USER] }, 'rsa', 2048);
    const expired = userKey('cert_expired', { principals: [TEST_USER], validity: '20200101:20200102' });
    const misnamed = userKey('cert_misnamed', { principals: ['somebody-else'] });
    const agentKey = userKey('cert_agent', { principals: [TEST_USER] });
    // The certificate at a path of its own, not beside the key.
    copyFileSync(good.cert, join(work, 'elsewhere-cert.pub'));

    agentSock = join(work, 'agent.sock');
    const started = execFileSync('ssh-agent', ['-s', '-a', agentSock], { encoding: 'utf8' });
    agentPid = /SSH_AGENT_PID=(\d+)/.exec(started)?.[1] ?? '';
    // ssh-add adds the key and the certificate beside it: the agent holds both.
    execFileSync('ssh-add', ['-q', agentKey.key], { env: { ...process.env, SSH_AUTH_SOCK: agentSock } });
    expect(execFileSync('ssh-add', ['-l'], { env: { ...process.env, SSH_AUTH_SOCK: agentSock }, encoding: 'utf8' })).toContain(
      'ED25519-CERT',
    );

    const keys: Record<string, string> = {};
    for (const [name, k] of Object.entries({ good, ecdsa, rsa, expired, misnamed })) {
      keys[name] = k.key;
      keys[`${name}-cert.pub`] = k.cert;
    }
    keys['explicit'] = good.key;
    keys['explicit.cert'] = join(work, 'elsewhere-cert.pub');
    const cred = (name: string, more = '') => `{ name: ${name}, username: ${TEST_USER}, key_path: ${name}${more} }`;
    gate = await gateWith(
      `@cert-authority * ${hostCa.pub}\n`,
      {
        hosts: ['good', 'ecdsa', 'rsa', 'expired', 'misnamed', 'explicit', 'agent'].map((c) => ({
          ...h(),
          alias: `as-${c}`,
          credentials: c,
        })),
        keys,
        credentials: [
          cred('good'),
          cred('ecdsa'),
          cred('rsa'),
          cred('expired'),
          cred('misnamed'),
          cred('explicit', ', certificate_path: explicit.cert'),
          `{ name: agent, username: ${TEST_USER}, agent: true }`,
        ],
      },
      { SSH_AUTH_SOCK: agentSock },
    );
  }, 60_000);

  it.each(['good', 'ecdsa', 'rsa', 'explicit'])(
    'log in with the %s key and its certificate (no authorized_keys line for the key)',
    async (c) => {
      const r = await gate.ok<{ stdout: string }>('ssh_run', { alias: `as-${c}`, command: 'echo by-certificate' });
      expect(r.stdout).toBe('by-certificate\n');
    },
  );

  it('sshd accepted those logins as certificates, naming each key id', () => {
    const log = sshdLog(fleet);
    for (const id of ['cert_user-id', 'cert_ecdsa-id', 'cert_rsa-id'])
      expect(log).toMatch(new RegExp(`Accepted publickey for ${TEST_USER} .*-CERT .*ID ${id} `));
  });

  it('log in with a certificate the ssh-agent holds', async () => {
    const r = await gate.ok<{ stdout: string }>('ssh_run', { alias: 'as-agent', command: 'echo agent-certificate' });
    expect(r.stdout).toBe('agent-certificate\n');
    expect(sshdLog(fleet)).toMatch(new RegExp(`Accepted publickey for ${TEST_USER} .*ED25519-CERT .*ID cert_agent-id `));
  });

  it('are refused by the host once expired, and the refusal says so', async () => {
    const e = await gate.fails('ssh_run', { alias: 'as-expired', command: 'echo never' });
    expect(e.code).toBe('connect_failed');
    expect(e.message).toContain('refused the credentials');
    expect(e.hint).toContain('the certificate expired-cert.pub (key id "cert_expired-id"');
    expect(e.hint).toContain('it expired at 2020-01-02T00:00:00Z');
  });

  it('are refused by the host when they do not name the user, and the refusal says so', async () => {
    const e = await gate.fails('ssh_run', { alias: 'as-misnamed', command: 'echo never' });
    expect(e.code).toBe('connect_failed');
    expect(e.hint).toContain(`its principals (somebody-else) do not include the user "${TEST_USER}"`);
  });
});
