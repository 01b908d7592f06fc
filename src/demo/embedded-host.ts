/**
 * A DEMO SSH host for `sshgate demo` on machines without OpenSSH's sshd: an ssh2 Server bound to
 * 127.0.0.1 only, that accepts one public key and runs each exec request with `sh -c` on this
 * machine, as the user running the demo, in a process group of its own. Signal requests go to
 * that group, as OpenSSH does. Not a general SSH server: no shell, no forwarding, no passwords.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { timingSafeEqual } from 'node:crypto';
import ssh2, { type Connection, type ParsedKey, type ServerChannel } from 'ssh2';
import { ed25519KeyPair } from './keys.js';

export interface DemoHost {
  host: string;
  port: number;
  /** `ssh-ed25519 AAAA…`, for known_hosts. */
  hostPublicKey: string;
  kind: 'openssh' | 'embedded';
  stop(): Promise<void>;
}

export async function startEmbeddedHost(userPublicKey: string): Promise<DemoHost> {
  const hostKey = ed25519KeyPair();
  const allowed = ssh2.utils.parseKey(userPublicKey) as ParsedKey;
  const children = new Set<ChildProcess>();
  const connections = new Set<Connection>();
  const server = new ssh2.Server({ hostKeys: [hostKey.private], ident: 'sshgate-demo-host' }, (client) => {
    connections.add(client);
    client.on('close', () => connections.delete(client));
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
      const sameKey =
        ctx.key.algo === allowed.type &&
        ctx.key.data.length === allowed.getPublicSSH().length &&
        timingSafeEqual(ctx.key.data, allowed.getPublicSSH());
      if (!sameKey) return ctx.reject(['publickey']);
      // Without a signature the client only asks whether the key would do.
      if (!ctx.signature || !ctx.blob) return ctx.accept();
      return allowed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true ? ctx.accept() : ctx.reject(['publickey']);
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        let child: ChildProcess | undefined;
        session.on('signal', (accept, _reject, info) => {
          accept?.();
          const name = info.name.replace(/^SIG/, '');
          if (child?.pid && (name === 'TERM' || name === 'KILL' || name === 'INT' || name === 'HUP')) {
            try {
              process.kill(-child.pid, `SIG${name}`);
            } catch {
              // already gone
            }
          }
        });
        session.on('exec', (accept, _reject, info) => {
          const channel = accept();
          const started = run(info.command, channel);
          child = started;
          children.add(started);
          started.on('close', () => children.delete(started));
          // Unlike sshd, the demo host leaves nothing running once the channel or connection is gone.
          const reap = () => {
            if (started.exitCode === null && started.signalCode === null && started.pid) killGroup(started.pid);
          };
          channel.once('close', reap);
          client.once('close', reap);
        });
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    host: '127.0.0.1',
    port,
    hostPublicKey: hostKey.public.trim().split(' ').slice(0, 2).join(' '),
    kind: 'embedded',
    async stop() {
      for (const c of children) if (c.pid) killGroup(c.pid);
      for (const c of connections) c.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function run(command: string, channel: ServerChannel): ChildProcess {
  const child = spawn('sh', ['-c', command], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdout?.pipe(channel, { end: false });
  child.stderr?.pipe(channel.stderr, { end: false });
  channel.on('data', (d: Buffer) => child.stdin?.write(d));
  channel.on('end', () => child.stdin?.end());
  child.stdin?.on('error', () => undefined);
  child.on('error', () => {
    channel.exit(127);
    channel.end();
  });
  child.on('close', (code, signal) => {
    if (signal) channel.exit(signal.replace(/^SIG/, ''), false, '');
    else channel.exit(code ?? 0);
    channel.end();
  });
  return child;
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
