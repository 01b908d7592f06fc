/**
 * The build as the Docker image runs it on another Node: ssh2's native crypto built for that Node.
 * node_modules holds one binding, built for the Node that runs the suite (npm run
 * build:ssh2-crypto), and another Node's ssh2 falls back to its JavaScript crypto, which is not
 * what the image runs (its Dockerfile builds the binding for its own Node). So a second tree:
 * dist/ and package.json copied, node_modules/ one link per package but ssh2, copied with its
 * binding built by that Node. Kept in .cache/ per Node version and ssh2 version (node-gyp takes
 * some seconds); dist/ is copied afresh each time, since the build changes it.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export interface ServerTree {
  /** The tree's dist/cli.js. */
  cli: string;
  /** What ssh2 runs there, as the rows say it. */
  crypto: 'native crypto' | 'JavaScript crypto';
  /** Why the binding is not there, when it is not. */
  why?: string;
}

/** A tree at .cache/bench-tree-<node version>/ whose ssh2 has its binding built for `node`. */
export function serverTreeFor(node: string): ServerTree {
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const ssh2Version = (JSON.parse(readFileSync('node_modules/ssh2/package.json', 'utf8')) as { version: string }).version;
  const root = resolve('.cache', `bench-tree-${version}`);
  const modules = join(root, 'node_modules');
  const ssh2 = join(modules, 'ssh2');
  const built = join(ssh2, 'lib', 'protocol', 'crypto', 'build', 'Release', 'sshcrypto.node');
  const stamp = join(root, `ssh2-${ssh2Version}`);
  if (!existsSync(stamp) || !existsSync(built)) {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(modules, { recursive: true });
    for (const name of readdirSync('node_modules')) {
      if (name === 'ssh2' || name === '.bin') continue;
      symlinkSync(resolve('node_modules', name), join(modules, name));
    }
    cpSync(resolve('node_modules/ssh2'), ssh2, { recursive: true });
    rmSync(join(ssh2, 'lib', 'protocol', 'crypto', 'build'), { recursive: true, force: true });
    const why = buildBinding(node, join(ssh2, 'lib', 'protocol', 'crypto'));
    if (why) return { cli: copyBuild(root), crypto: 'JavaScript crypto', why };
    mkdirSync(stamp);
  }
  const cli = copyBuild(root);
  // Whether ssh2, loaded in the tree by that Node, takes it: what matters, whatever node-gyp said.
  const check = spawnSync(node, ['-p', `require(${JSON.stringify(join(ssh2, 'lib/protocol/crypto.js'))}).bindingAvailable`], {
    encoding: 'utf8',
  });
  return check.stdout.trim() === 'true'
    ? { cli, crypto: 'native crypto' }
    : { cli, crypto: 'JavaScript crypto', why: `ssh2 did not load the binding: ${check.stderr.trim().slice(0, 200)}` };
}

/** dist/ and package.json (the CLI reads its version there) into the tree; its dist/cli.js. */
function copyBuild(root: string): string {
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  cpSync(resolve('dist'), join(root, 'dist'), { recursive: true });
  cpSync(resolve('package.json'), join(root, 'package.json'));
  return join(root, 'dist', 'cli.js');
}

/** Builds the binding in `dir` with `node` and npm's node-gyp, as scripts/ssh2-crypto.mjs does; why not, if not. */
function buildBinding(node: string, dir: string): string | undefined {
  const nodeGyp = process.env.npm_config_node_gyp;
  if (!nodeGyp) return 'no node-gyp: run the benchmark as `npm run bench`, which provides npm’s';
  const prefix = dirname(dirname(node));
  const headers = existsSync(join(prefix, 'include', 'node', 'node.h')) ? [`--nodedir=${prefix}`] : [];
  const openssl = spawnSync(node, ['-p', "process.versions.openssl.split('.')[0]"], { encoding: 'utf8' }).stdout.trim() || '3';
  const r = spawnSync(node, [nodeGyp, 'rebuild', '--loglevel=warn', ...headers, `--real_openssl_major=${openssl}`], {
    cwd: dir,
    encoding: 'utf8',
  });
  return r.status === 0 ? undefined : `node-gyp exited ${r.status ?? r.signal}: ${r.stderr.trim().slice(-200)}`;
}
