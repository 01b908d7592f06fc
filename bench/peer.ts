/**
 * The peer the start benchmark compares with: ssh-mcp, the SSH MCP server most installed from npm,
 * at a pinned version, installed from the npm registry into .cache/ the first time it is needed
 * (as .ci/image-node fetches the image's Node), never a dependency of sshgate.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export const PEER = { name: 'ssh-mcp', version: '2.11.0' } as const;

/** The peer's entry point (its package's bin), installed first if it is not there yet. */
export function peerEntry(): string {
  const prefix = resolve(`.cache/${PEER.name}-${PEER.version}`);
  const entry = resolve(prefix, 'node_modules', PEER.name, 'build', 'index.js');
  if (!existsSync(entry)) {
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--prefix', prefix, `${PEER.name}@${PEER.version}`], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  return entry;
}

/**
 * The peer's quick-start arguments for one host (its README, "CLI Flags"): a single profile of
 * that host, user and key. `dev` so that its policy tier is not guessed; nothing connects at start.
 */
export function peerArgs(host: { host: string; port: number }, user: string, keyPath: string): string[] {
  return [`--host=${host.host}`, `--port=${host.port}`, `--user=${user}`, `--key=${keyPath}`, '--group=dev'];
}
