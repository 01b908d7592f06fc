import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet, type FleetHost } from '../support/sshd.js';

let fleet: Fleet;
beforeAll(async () => {
  fleet = await startFleet(20, { subnet: 61 });
});
afterAll(async () => {
  await fleet?.stop();
});

/** Runs one command on a fleet host with ssh2, accepting only the fleet's own host key. */
function exec(host: FleetHost, command: string): Promise<string> {
  const expected = createHash('sha256')
    .update(Buffer.from(fleet.hostPublicKey.split(' ')[1] as string, 'base64'))
    .digest();
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.on('ready', () => {
      c.exec(command, (err, stream) => {
        if (err) return reject(err);
        let out = '';
        stream.on('data', (d: Buffer) => (out += d.toString()));
        stream.on('close', () => {
          c.end();
          resolve(out);
        });
      });
    });
    c.on('error', reject);
    c.connect({
      host: host.host,
      port: host.port,
      username: fleet.user,
      privateKey: readFileSync(fleet.userKeyPath),
      hostVerifier: (key: Buffer) => createHash('sha256').update(key).digest().equals(expected),
    });
  });
}

describe('the test fleet', () => {
  it('serves 20 loopback hosts from two sshd processes, each reachable by key with a verified host key', async () => {
    const outputs = await Promise.all(fleet.hosts.map((h) => exec(h, 'echo "$SSH_CONNECTION"')));
    outputs.forEach((out, i) => {
      const h = fleet.hosts[i] as FleetHost;
      expect(out.trim().split(' ').slice(2)).toEqual([h.host, String(h.port)]);
    });
  });
});
