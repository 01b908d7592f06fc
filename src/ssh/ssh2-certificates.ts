/**
 * What ssh2 lacks for OpenSSH certificates, added as it loads, and three changes for speed: six of
 * its files are read, changed by the exact hunks below, and compiled into Node's module cache in
 * place of the files on disk, which stay as npm installed them. The changes, and only these:
 *
 * - constants.js: the certificate host key algorithms are names ssh2 accepts in its list;
 * - kex.js (client side): the server's host key may be a certificate; the exchange signature is
 *   made, and verified, by the key the certificate certifies (read by certificates.ts, the same
 *   parser that the host key check uses), with that key's algorithm (`ssh-ed25519` for
 *   `ssh-ed25519-cert-v01@openssh.com`, `rsa-sha2-512` for `rsa-sha2-512-cert-v01@openssh.com`);
 * - Protocol.js (authPK): a publickey request made with a certificate names the certificate's
 *   algorithm, and its signature the key's (PROTOCOL.certkeys); for any other key both are the same
 *   name, as before;
 * - keyParser.js, for speed alone: a public key verifies through a Node key object made once
 *   (key-objects.ts), not its PEM text, which Node would parse at every call;
 * - crypto.js, for speed alone: a packet's random padding comes from a pool (padding-bytes.ts),
 *   not from a trip into OpenSSL per packet;
 * - Channel.js, for speed alone: a channel destroyed after its writable side finished (as Node's
 *   autoDestroy does once both sides are done, every exec) does not call end() again, which made
 *   and dropped an ERR_STREAM_ALREADY_FINISHED error, its stack trace included, every time.
 *
 * Why this way (docs/certificates.md): ssh2 has no hook for either, no maintained fork adds both,
 * and a patch applied at install time would not run here (`ignore-scripts`) nor for anyone who
 * installs sshgate from npm. Each hunk must match exactly once in the installed ssh2 of the version
 * below, or nothing is changed and certificates are unavailable, with the reason (the host key check
 * and certificate logins then refuse what they cannot check).
 */
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { certifiedKeyOf, HOST_CERTIFICATE_ALGORITHMS, signatureAlgorithm } from './certificates.js';
import { publicKeyObject } from './key-objects.js';
import { type Fill, fillPadding } from './padding-bytes.js';

/** The ssh2 release the hunks were written against. */
export const PATCHED_SSH2_VERSION = '1.17.0';

/** What the changed files call: one object, given to each as `module.sshgateCertificates`. */
export interface Ssh2CertificateHooks {
  signatureAlgorithm(keyAlgorithm: string): string;
  /** The certified key's plain blob for a certificate, the blob itself for a plain key, undefined for a malformed certificate. */
  certifiedKey(blob: Buffer): Buffer | undefined;
  /** The key object for a public key's text. */
  publicKeyObject(pem: string): KeyObject;
  /** Random padding, as randomFillSync(buffer, offset, size). */
  fillPadding: Fill;
}

const HOOKS: Ssh2CertificateHooks = { signatureAlgorithm, certifiedKey: certifiedKeyOf, publicKeyObject, fillPadding };

type Hunk = readonly [find: string, replace: string];

/** Per file (under ssh2/lib), in the order they must load: a file's patched dependencies first. */
export const HUNKS: readonly { file: string; hunks: readonly Hunk[] }[] = [
  {
    file: 'protocol/crypto.js',
    hunks: [
      [
        `  createCipheriv, createDecipheriv, createHmac, randomFillSync, timingSafeEqual
} = require('crypto');`,
        `  createCipheriv, createDecipheriv, createHmac, timingSafeEqual
} = require('crypto');
const randomFillSync = module.sshgateCertificates.fillPadding;`,
      ],
    ],
  },
  {
    file: 'protocol/constants.js',
    hunks: [
      [
        `const SUPPORTED_SERVER_HOST_KEY = DEFAULT_SERVER_HOST_KEY.concat([
  'ssh-dss',
]);`,
        `const SUPPORTED_SERVER_HOST_KEY = DEFAULT_SERVER_HOST_KEY.concat([
  'ssh-dss',
  ${HOST_CERTIFICATE_ALGORITHMS.map((a) => `'${a}'`).join(',\n  ')},
]);`,
      ],
    ],
  },
  {
    file: 'protocol/keyParser.js',
    hunks: [
      [
        `          return verify_(algo, data, pem, signature);`,
        `          return verify_(algo, data, module.sshgateCertificates.publicKeyObject(pem), signature);`,
      ],
    ],
  },
  {
    file: 'Channel.js',
    hunks: [
      [
        `  destroy() {
    this.end();
    this.close();`,
        `  destroy() {
    if (!this.writableFinished)
      this.end();
    this.close();`,
      ],
    ],
  },
  {
    file: 'protocol/kex.js',
    hunks: [
      // The server's reply: an RSA certificate's blob names ssh-rsa-cert-v01 whichever SHA-2
      // algorithm was agreed, as a plain RSA key's names ssh-rsa.
      [
        `              switch (this.negotiated.serverHostKey) {
                case 'rsa-sha2-256':
                case 'rsa-sha2-512':
                  if (hostPubKeyType === 'ssh-rsa')
                    break;`,
        `              switch (this.negotiated.serverHostKey) {
                case 'rsa-sha2-256-cert-v01@openssh.com':
                case 'rsa-sha2-512-cert-v01@openssh.com':
                  if (hostPubKeyType === 'ssh-rsa-cert-v01@openssh.com')
                    break;
                  return doFatalError(
                    this._protocol,
                    'Host key does not match negotiated type',
                    'handshake',
                    DISCONNECT_REASON.KEY_EXCHANGE_FAILED
                  );
                case 'rsa-sha2-256':
                case 'rsa-sha2-512':
                  if (hostPubKeyType === 'ssh-rsa')
                    break;`,
      ],
      // The signature is checked against the certified key's algorithm, and the error names that one.
      [
        `        if (sigType !== negotiated.serverHostKey) {
          return doFatalError(
            this._protocol,
            \`Wrong signature type: \${sigType}, \`
              + \`expected: \${negotiated.serverHostKey}\`,`,
        `        const sigExpected = module.sshgateCertificates.signatureAlgorithm(negotiated.serverHostKey);
        if (sigType !== sigExpected) {
          return doFatalError(
            this._protocol,
            \`Wrong signature type: \${sigType}, \`
              + \`expected: \${sigExpected}\`,`,
      ],
      [
        `          bufferParser.init(this._hostKey, 0);
          const name = bufferParser.readString(true);
          const hostKey = this._hostKey.slice(bufferParser.pos());`,
        `          const plainHostKey = module.sshgateCertificates.certifiedKey(this._hostKey);
          if (plainHostKey === undefined) {
            return doFatalError(
              this._protocol,
              'Malformed host certificate',
              'handshake',
              DISCONNECT_REASON.KEY_EXCHANGE_FAILED
            );
          }
          bufferParser.init(plainHostKey, 0);
          const name = bufferParser.readString(true);
          const hostKey = plainHostKey.slice(bufferParser.pos());`,
      ],
      [
        `        switch (this.negotiated.serverHostKey) {
          case 'rsa-sha2-256': hashAlgo = 'sha256'; break;
          case 'rsa-sha2-512': hashAlgo = 'sha512'; break;
        }

        this._protocol._debug
          && this._protocol._debug('Verifying signature ...');`,
        `        switch (module.sshgateCertificates.signatureAlgorithm(this.negotiated.serverHostKey)) {
          case 'rsa-sha2-256': hashAlgo = 'sha256'; break;
          case 'rsa-sha2-512': hashAlgo = 'sha512'; break;
        }

        this._protocol._debug
          && this._protocol._debug('Verifying signature ...');`,
      ],
    ],
  },
  {
    file: 'protocol/Protocol.js',
    hunks: [
      [
        `        throw new Error('Error while converting handshake signature');

      const sigLen = signature.length;
      p = this._packetRW.write.allocStart;
      packet = this._packetRW.write.alloc(
        1 + 4 + userLen + 4 + 14 + 4 + 9 + 1 + 4 + algoLen + 4 + pubKeyLen + 4
          + 4 + algoLen + 4 + sigLen
      );`,
        `        throw new Error('Error while converting handshake signature');

      const sigLen = signature.length;
      const sigAlgo = module.sshgateCertificates.signatureAlgorithm(keyAlgo);
      const sigAlgoLen = Buffer.byteLength(sigAlgo);
      p = this._packetRW.write.allocStart;
      packet = this._packetRW.write.alloc(
        1 + 4 + userLen + 4 + 14 + 4 + 9 + 1 + 4 + algoLen + 4 + pubKeyLen + 4
          + 4 + sigAlgoLen + 4 + sigLen
      );`,
      ],
      [
        `      writeUInt32BE(packet, 4 + algoLen + 4 + sigLen, p += pubKeyLen);

      writeUInt32BE(packet, algoLen, p += 4);
      packet.utf8Write(keyAlgo, p += 4, algoLen);

      writeUInt32BE(packet, sigLen, p += algoLen);`,
        `      writeUInt32BE(packet, 4 + sigAlgoLen + 4 + sigLen, p += pubKeyLen);

      writeUInt32BE(packet, sigAlgoLen, p += 4);
      packet.utf8Write(sigAlgo, p += 4, sigAlgoLen);

      writeUInt32BE(packet, sigLen, p += sigAlgoLen);`,
      ],
    ],
  },
];

/** The files' text with every hunk applied, or why they cannot be. */
export function patchedSources(version: string, read: (file: string) => string): Map<string, string> | string {
  if (version !== PATCHED_SSH2_VERSION)
    return `ssh2 ${version} is installed; the certificate changes were written for ${PATCHED_SSH2_VERSION}`;
  const out = new Map<string, string>();
  for (const { file, hunks } of HUNKS) {
    let text = read(file);
    for (const [find, replace] of hunks) {
      const at = text.indexOf(find);
      if (at < 0 || text.indexOf(find, at + 1) >= 0) {
        return `ssh2's lib/${file} does not hold, exactly once, the text the certificate changes replace (${JSON.stringify(find.trim().split('\n')[0])})`;
      }
      text = text.slice(0, at) + replace + text.slice(at + find.length);
    }
    out.set(file, text);
  }
  return out;
}

interface InternalModule {
  filename: string;
  paths: string[];
  loaded: boolean;
  sshgateCertificates: Ssh2CertificateHooks;
  _compile(content: string, filename: string): void;
}
interface InternalModuleClass {
  new (id: string, parent?: unknown): InternalModule;
  _nodeModulePaths(dir: string): string[];
}

let installed: { lib: string; version: string } | string | undefined;

/** The installed ssh2: its lib directory and version, read once; else why they cannot be read. */
export function installedSsh2(): { lib: string; version: string } | string {
  if (installed === undefined) {
    try {
      const pkg = createRequire(import.meta.url).resolve('ssh2/package.json');
      const version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
      installed = { lib: join(dirname(pkg), 'lib'), version };
    } catch (err) {
      installed = `ssh2's package.json cannot be read: ${(err as Error).message}`;
    }
  }
  return installed;
}

/**
 * Puts the changed files in Node's module cache, before anything loads ssh2; undefined when done,
 * else why certificates are unavailable (ssh2 is then loaded as installed).
 */
export function patchSsh2(): string | undefined {
  const require = createRequire(import.meta.url);
  const found = installedSsh2();
  if (typeof found === 'string') return found;
  const { lib, version } = found;
  const files = HUNKS.map((h) => join(lib, h.file));
  const cached = files.filter((f) => require.cache[f] !== undefined);
  if (cached.length > 0) {
    const ours = cached.every((f) => (require.cache[f] as unknown as Partial<InternalModule>).sshgateCertificates === HOOKS);
    return ours && cached.length === files.length ? undefined : 'ssh2 was loaded before its certificate changes could be';
  }
  let sources: Map<string, string> | string;
  try {
    sources = patchedSources(version, (file) => readFileSync(join(lib, file), 'utf8'));
  } catch (err) {
    return `ssh2's files cannot be read: ${(err as Error).message}`;
  }
  if (typeof sources === 'string') return sources;
  const Internal = Module as unknown as InternalModuleClass;
  for (const { file } of HUNKS) {
    const filename = join(lib, file);
    const m = new Internal(filename);
    m.filename = filename;
    m.paths = Internal._nodeModulePaths(dirname(filename));
    m.sshgateCertificates = HOOKS;
    // In the cache before it runs, as Node does, so that a require cycle finds it.
    require.cache[filename] = m as unknown as NodeJS.Module;
    try {
      m._compile(sources.get(file) as string, filename);
    } catch (err) {
      delete require.cache[filename];
      return `ssh2's lib/${file} did not load with the certificate changes: ${(err as Error).message}`;
    }
    m.loaded = true;
  }
  return undefined;
}
