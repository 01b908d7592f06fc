import { execFileSync } from 'node:child_process';

/**
 * Builds dist/ once (npm run build: tsc, then the bundle), so tests can run the real `sshgate`
 * binary as a user would, and the startup snapshot's script (npm run build:snapshot), from which
 * the tests of the image's start build their blobs.
 */
export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  for (const config of ['rolldown.config.mjs', 'rolldown.snapshot.mjs'])
    execFileSync(process.execPath, ['node_modules/rolldown/bin/cli.mjs', '-c', config], { stdio: ['ignore', 'ignore', 'inherit'] });
}
