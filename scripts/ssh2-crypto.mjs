/**
 * `npm run build:ssh2-crypto [-- --required]`: builds ssh2's optional native binding, its AES-GCM
 * and ChaCha20-Poly1305 in C++ against the OpenSSL inside node. Without it ssh2 makes a new
 * decipher object for every 32 KiB packet in JavaScript: streaming output measured 25–60% faster
 * with it on this project's CI machine, and a warm call 0.18 ms less CPU (docs/benchmarks.md).
 *
 * ssh2's own install script would build it, but .npmrc turns install scripts off (no dependency
 * runs code at install), so it is built here, on purpose, for the node that runs this script. It
 * needs python3, make and a C++ compiler, and node's headers: those beside the node binary when
 * there are (official tarballs, Debian's nodejs, the Docker images), else node-gyp fetches them.
 * Without --required a failed build is reported and ssh2 keeps its JavaScript crypto; with it (the
 * Docker image's build) the failure fails the build.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import process from 'node:process';

const required = process.argv.includes('--required');
const require = createRequire(join(process.cwd(), 'package.json'));
const crypto = join(dirname(require.resolve('ssh2/package.json')), 'lib', 'protocol', 'crypto');
const nodeGyp = process.env.npm_config_node_gyp;
if (!nodeGyp) {
  process.stderr.write('ssh2-crypto: run it as `npm run build:ssh2-crypto`, which provides npm’s node-gyp\n');
  process.exit(2);
}
const prefix = dirname(dirname(process.execPath));
const headers = existsSync(join(prefix, 'include', 'node', 'node.h')) ? [`--nodedir=${prefix}`] : [];
const openssl = /^\d+/.exec(process.versions.openssl)?.[0] ?? '3';
const built = spawnSync(process.execPath, [nodeGyp, 'rebuild', '--loglevel=warn', ...headers, `--real_openssl_major=${openssl}`], {
  cwd: crypto,
  stdio: ['ignore', 'ignore', 'inherit'],
});
// Whether ssh2, loaded anew, takes it: the proof that matters, whatever node-gyp said.
const check = spawnSync(process.execPath, ['-p', "require('ssh2/lib/protocol/crypto.js').bindingAvailable"], { encoding: 'utf8' });
const available = check.stdout.trim() === 'true';
process.stderr.write(
  available
    ? `ssh2-crypto: ssh2 uses its native crypto binding (node ${process.version})\n`
    : `ssh2-crypto: not built (node-gyp exit ${built.status ?? built.signal}); ssh2 keeps its JavaScript crypto\n`,
);
process.exit(available || !required ? 0 : 1);
