import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/commands/dispatch.js';
import { captureIo, tempDir, writeTree } from '../../support/policy.js';
import { listeningSocket, staleSocket } from '../../support/sockets.js';
import { keygen, signKey } from '../../support/certificates.js';

async function check(env: Record<string, string> = {}, ...argv: string[]) {
  const io = captureIo();
  const code = await runCli(['check', ...argv], env, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

const count = (text: string, part: string) => text.split(part).length - 1;

describe('sshgate check: credentials', () => {
  it('warns of a credential problem once, naming every host it stops, with its hint', async () => {
    const r = await check();
    expect(r.code).toBe(0);
    // bastion, web1 and web2 share deploy-key: one warning, not three.
    expect(count(r.out, 'the key of credential "deploy-key" cannot be read')).toBe(1);
    expect(r.out).toContain(
      '  hosts "bastion", "web1", "web2": the key of credential "deploy-key" cannot be read: config/keys/deploy/id_ed25519\n' +
        '    hint: put the private key at config/keys/deploy/id_ed25519, readable by sshgate\n',
    );
    expect(r.out).toContain(
      '  host "stg-app-1": secret "legacy_pw" is not set\n    hint: set SSHGATE_SECRET_LEGACY_PW or create the file /run/secrets/legacy_pw\n',
    );
  });

  it('warns once when SSH_AUTH_SOCK is a socket nothing answers at, and not when an agent listens', async () => {
    const dir = tempDir();
    const stale = staleSocket(join(dir, 'stale.sock'));
    const r = await check({ SSH_AUTH_SOCK: stale });
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      `  host "db1": the ssh-agent at SSH_AUTH_SOCK (${stale}) does not answer (ECONNREFUSED)\n` +
        '    hint: start ssh-agent and ssh-add the key, then give sshgate the SSH_AUTH_SOCK that ssh-agent prints\n',
    );
    expect(count(r.out, 'SSH_AUTH_SOCK (')).toBe(1);
    const gone = await check({ SSH_AUTH_SOCK: join(dir, 'gone.sock') });
    expect(gone.out).toContain(
      `  host "db1": credential "ops-agent" uses the agent, but nothing is at SSH_AUTH_SOCK (${join(dir, 'gone.sock')})\n`,
    );
    expect(count(gone.out, 'SSH_AUTH_SOCK (')).toBe(1);
    const agent = await listeningSocket(join(dir, 'agent.sock'));
    try {
      expect((await check({ SSH_AUTH_SOCK: join(dir, 'agent.sock') })).out).not.toContain('SSH_AUTH_SOCK');
    } finally {
      agent.close();
    }
  });
});

describe('sshgate check: user certificates', () => {
  it('warns of a certificate that cannot log in now, and of a long-lived one that lapses within a week', async () => {
    const config = tempDir();
    const keys = join(config, 'keys');
    mkdirSync(keys);
    const ca = keygen(config, 'ca');
    // alias → ssh-keygen -V validity, and the principals signed
    const certs: Record<string, { validity: string; principals: string[] }> = {
      expired: { validity: '20200101:20200102', principals: ['deploy'] },
      early: { validity: '+30d:+60d', principals: ['deploy'] },
      stranger: { validity: '-1d:+52w', principals: ['other'] },
      lapsing: { validity: '-30d:+2d', principals: ['deploy'] },
      brief: { validity: '-1h:+1h', principals: ['deploy'] },
      healthy: { validity: '-1d:+52w', principals: ['deploy'] },
    };
    const hosts: string[] = [];
    const credentials: string[] = [];
    for (const [alias, o] of Object.entries(certs)) {
      const key = keygen(keys, alias);
      signKey(ca.path, `${key.path}.pub`, { id: alias, ...o });
      hosts.push(`  - { alias: ${alias}, host: 10.0.9.${hosts.length + 1}, credentials: ${alias} }`);
      credentials.push(`  - { name: ${alias}, username: deploy, key_path: ${alias} }`);
    }
    writeFileSync(join(config, 'servers.yml'), `hosts:\n${hosts.join('\n')}\n`);
    writeFileSync(join(config, 'credentials.yml'), `entries:\n${credentials.join('\n')}\n`);
    const r = await check({}, '--config', config);
    expect(r.code).toBe(0);
    const line = (alias: string) => r.out.split('\n').find((l) => l.startsWith(`  host "${alias}": the certificate ${alias}-cert.pub`));
    expect(line('expired')).toMatch(/cannot log in as "deploy": it expired at 2020-01-02T/);
    expect(line('early')).toMatch(/cannot log in as "deploy": it is not valid before /);
    expect(line('stranger')).toContain('cannot log in as "deploy": its principals (other) do not include the user "deploy"');
    expect(line('lapsing')).toMatch(/\(key id "lapsing", valid .* to .*\) expires at .*, in less than 7 days$/);
    expect(line('brief')).toBeUndefined();
    expect(line('healthy')).toBeUndefined();
    expect(r.out).toContain(
      '    hint: have the CA sign a new one (ssh-keygen -s CA -I ID -n deploy -V +52w KEY.pub) and put it at expired-cert.pub\n',
    );
  });
});

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';

/** The example config, with this known_hosts text. */
function exampleWith(knownHosts: string): string {
  const dir = tempDir();
  cpSync('config', dir, { recursive: true });
  writeFileSync(join(dir, 'known_hosts'), knownHosts);
  return dir;
}

describe('sshgate check: known_hosts', () => {
  it('names each host with no entry, with sshgate keyscan and the ssh-keyscan line that add it, through its jump host', async () => {
    // bastion, web1 and stg-app-1 are there; db1 on port 2222 and web2 behind the bastion are not.
    const config = exampleWith(`10.0.0.2 ${KEY}\n10.0.0.11 ${KEY}\n10.20.0.15 ${KEY}\n`);
    const known = join(config, 'known_hosts');
    const r = await check({}, '--config', config);
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      `  host "web2" (10.0.0.12) has no entry in ${known}: under host_key_policy strict it is refused (host_key_unknown)\n` +
        `    hint: add its key, and check its fingerprint out of band: sshgate keyscan web2 (it asks before it writes), or ssh jump@10.0.0.2 ssh-keyscan -t ed25519 10.0.0.12 >> ${known}\n`,
    );
    expect(r.out).toContain(
      `  host "db1" ([10.0.0.21]:2222) has no entry in ${known}: under host_key_policy strict it is refused (host_key_unknown)\n` +
        `    hint: add its key, and check its fingerprint out of band: sshgate keyscan db1 (it asks before it writes), or ssh-keyscan -t ed25519 -p 2222 10.0.0.21 >> ${known}\n`,
    );
    for (const alias of ['bastion', 'web1', 'stg-app-1']) expect(r.out).not.toContain(`host "${alias}" (`);
  });

  it('says when the entry is recorded for port 22 and the host listens elsewhere', async () => {
    const config = exampleWith(`10.0.0.2 ${KEY}\n10.0.0.11 ${KEY}\n10.0.0.12 ${KEY}\n10.20.0.15 ${KEY}\n10.0.0.21 ${KEY}\n`);
    const known = join(config, 'known_hosts');
    const r = await check({}, '--config', config);
    expect(r.out).toContain(
      `  host "db1": ${known}:5 records 10.0.0.21 on port 22, but the host listens on port 2222, where OpenSSH and sshgate look up [10.0.0.21]:2222 — which has no entry\n` +
        `    hint: if that key is the one on port 2222, write the line's host as [10.0.0.21]:2222; else add it: sshgate keyscan db1, or ssh-keyscan -t ed25519 -p 2222 10.0.0.21 >> ${known}\n`,
    );
    expect(r.out).not.toContain('has no entry in');
    // Under accept-new a missing entry is recorded on the first connection, but a port-22 entry
    // would be passed over for a new one: that is still said.
    const policy = writeTree({ 'p.yml': `${readPolicy()}\nhost_key_policy: accept-new\n` });
    const accept = await check({}, '--config', exampleWith(`10.0.0.21 ${KEY}\n`), '--policy', policy);
    expect(accept.out).toContain('records 10.0.0.21 on port 22, but the host listens on port 2222');
    expect(accept.out).not.toContain('has no entry in');
  });

  it('goes through every hop of a jump chain with ssh -J, ports and IPv6 included', async () => {
    const config = writeTree({
      'servers.yml': [
        'hosts:',
        '  - { alias: outer, host: "2001:db8::1", port: 2200, user: a, credentials: k }',
        '  - { alias: middle, host: mid.example, user: b, credentials: k, jump: outer }',
        '  - { alias: inner, host: 10.1.2.3, port: 2222, credentials: k, jump: middle }',
        '',
      ].join('\n'),
      'credentials.yml': 'entries:\n  - { name: k, username: c, password_secret: pw }\n',
      known_hosts: `[2001:db8::1]:2200 ${KEY}\nmid.example ${KEY}\n`,
    });
    const r = await check({ SSHGATE_SECRET_PW: 'x' }, '--config', config, '--policy', writeTree({ 'p.yml': 'rules: []\n' }));
    expect(r.out).toContain(
      `hint: add its key, and check its fingerprint out of band: sshgate keyscan inner (it asks before it writes), or ssh -J 'a@[2001:db8::1]:2200' b@mid.example ssh-keyscan -t ed25519 -p 2222 10.1.2.3 >> ${join(config, 'known_hosts')}\n`,
    );
  });
});

function readPolicy(): string {
  return readFileSync('policies/default.yml', 'utf8');
}

describe('sshgate check: ask rules', () => {
  it('warns of an ask rule the agent own client may answer, and of no other', async () => {
    const dir = tempDir();
    const policy = join(dir, 'ask.yml');
    writeFileSync(
      policy,
      [
        'rules:',
        '  - { name: by the client, action: ask, commands: ["reboot"], approve_by: client }',
        '  - { name: by either, action: ask, commands: ["halt"], approve_by: either }',
        '  - { name: four eyes, action: ask, commands: ["poweroff"], approve_by: either, four_eyes: true }',
        '  - { name: by an operator, action: ask, commands: ["shutdown"] }',
        '',
      ].join('\n'),
    );
    const r = await check({}, '--policy', policy);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /ask\.yml:2:5: ask rule "by the client" has approve_by: client: the agent's own MCP client may approve its commands \[client-approval\]\n {4}hint: /,
    );
    expect(r.out).toMatch(/ask rule "by either" has approve_by: either/);
    expect(r.out).not.toMatch(/"four eyes" has approve_by/);
    expect(r.out).not.toMatch(/"by an operator" has approve_by/);
  });
});

describe('sshgate check: policy lint and --strict', () => {
  /** The example config with this policy, and these cases in its tests folder. */
  function policyWith(yaml: string, cases = '- { alias: web1, command: "uptime", expect: allow }\n') {
    return join(writeTree({ 'p/p.yml': yaml, 'p/tests/t.yml': cases }), 'p');
  }

  it('prints each lint finding as a warning with its code, file:line and hint, and still exits 0', async () => {
    const policy = policyWith('rules:\n  - { name: wrap, action: allow, commands: ["uptime", "timeout *"] }\n');
    const r = await check({}, '--policy', policy);
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      `  ${policy}/p.yml:2:5: allow pattern "timeout *" of rule "wrap": "*" stands where the command timeout runs is named, so it allows timeout to run any command no deny rule names [wrapper-wildcard]\n` +
        '    hint: name the command after timeout literally ("timeout systemctl status *"), or allow that command without timeout\n',
    );
    expect(r.out).toMatch(/\nOK\n$/);
  });

  it('with --strict, fails (exit 1) on any lint finding and says so instead of OK', async () => {
    const policy = policyWith('rules:\n  - { name: wrap, action: allow, commands: ["uptime", "timeout *"] }\n');
    const r = await check({}, '--policy', policy, '--strict');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/\nFAILED \(--strict\): 1 policy lint finding \(the warnings marked \[code\]\)\n$/);
    expect(r.out).not.toContain('\nOK\n');
  });

  it('with --strict, passes a clean policy although keys, secrets and known_hosts are missing here', async () => {
    const policy = policyWith('rules:\n  - { name: up, action: allow, commands: ["uptime"] }\n');
    const r = await check({}, '--policy', policy, '--strict');
    expect(r.out).toContain('the key of credential "deploy-key" cannot be read');
    expect(r.out).not.toMatch(/ \[[a-z-]+\]\n/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\nOK\n$/);
  });

  it('passes the example policy with --strict', async () => {
    const r = await check({}, '--strict');
    expect(r.out).not.toMatch(/ \[[a-z-]+\]\n/);
    expect(r.code).toBe(0);
  });

  it('reads the tests folder beside the policy: an untested rule, or an empty folder; without one, says nothing of tests', async () => {
    const untested = await check(
      {},
      '--policy',
      policyWith('rules:\n  - { name: up, action: allow, commands: ["uptime"] }\n  - { name: df, action: allow, commands: ["df -h"] }\n'),
    );
    expect(untested.out).toMatch(/p\.yml:3:5: allow rule "df" matches no command of any test case \[untested-rule\]/);
    const dir = writeTree({
      'p.yml': 'rules:\n  - { name: up, action: allow, commands: ["uptime"] }\n',
      'tests/README': 'cases go here\n',
    });
    const empty = await check({}, '--policy', join(dir, 'p.yml'));
    expect(empty.out).toContain(`${join(dir, 'tests')} holds no test cases: no rule of the policy is tested [no-tests]`);
    const bare = writeTree({ 'p.yml': 'rules:\n  - { name: up, action: allow, commands: ["uptime"] }\n' });
    expect((await check({}, '--policy', join(bare, 'p.yml'))).out).not.toMatch(/\[(no-tests|untested-rule)\]/);
  });

  it('fails on a broken tests folder as on any broken file', async () => {
    const r = await check(
      {},
      '--policy',
      policyWith('rules:\n  - { action: allow, commands: ["uptime"] }\n', '- { alias: web1, comand: uptime, expect: allow }\n'),
    );
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/t\.yml:1:\d+: unknown key "comand"; did you mean "command"\?/);
  });

  it('refuses --strict outside check', async () => {
    const r = await check({}, '--strict');
    expect(r.code).not.toBe(2);
    const io = captureIo();
    expect(await runCli(['plan', '--strict', 'web1', '--', 'uptime'], {}, io)).toBe(2);
    expect(io.stderr()).toContain('--strict is an option of check only');
  });
});
