import { execFileSync } from 'node:child_process';

/** Builds dist/ once (npm run build: tsc, then the bundle), so tests can run the real `sshgate` binary as a user would. */
export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  execFileSync(process.execPath, ['node_modules/rolldown/bin/cli.mjs', '-c', 'rolldown.config.mjs'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
