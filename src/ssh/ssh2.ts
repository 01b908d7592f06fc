/**
 * ssh2, loaded when it is first needed rather than as sshgate starts: a server answers its client
 * before it has loaded the SSH stack (about a tenth of a start's module loading), and loads it
 * while the client reads the tool list (Gateway.ready). Nothing else in src/ssh imports ssh2's
 * values; its types are imported with `import type`, which leaves nothing in the built code. It is
 * required rather than imported: code started from the Docker image's startup snapshot has no
 * import() (src/snapshot.ts), and ssh2 is a CommonJS package either way.
 */
import type ssh2Module from 'ssh2';
import { createRequire } from 'node:module';
import { patchSsh2 } from './ssh2-certificates.js';

export type Ssh2 = typeof ssh2Module;

let loaded: Ssh2 | undefined;
let loading: Promise<Ssh2> | undefined;
/** Why ssh2 cannot take certificates, once loaded; undefined when it can. */
let certificatesUnavailable: string | undefined = 'ssh2 is not loaded yet';

/** ssh2, once loaded (with its certificate changes, ssh2-certificates.ts); every later call gets the same module at once. */
export function loadSsh2(): Promise<Ssh2> {
  loading ??= Promise.resolve()
    .then(() => (certificatesUnavailable = patchSsh2()))
    .then(() => (loaded = createRequire(import.meta.url)('ssh2') as Ssh2));
  return loading;
}

/** Why the loaded ssh2 cannot use OpenSSH certificates, or undefined when it can. */
export function ssh2CertificatesUnavailable(): string | undefined {
  return certificatesUnavailable;
}

/** ssh2 for synchronous code (parsing a key), which runs only after loadSsh2() has resolved. */
export function loadedSsh2(): Ssh2 {
  if (!loaded) throw new Error('ssh2 is used before loadSsh2() resolved');
  return loaded;
}
