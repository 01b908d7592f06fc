// A hostile SSH server for adversarial tests of sshgate's host certificate check: ssh2's server,
// changed in this process only, presents `certificate` (any blob: a certificate of another key, a
// user certificate, garbage) as its host key under the algorithm `algorithm`, and signs the key
// exchange with `signWith` (a private key in OpenSSH format), naming the signature `sigType`.
// It accepts any password. Prints "listening <port>" once it listens.
// argv: host port algorithm certificate-b64 signWith-path sigType
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import process from 'node:process';

const [host, port, algorithm, certB64, signWith, sigType] = process.argv.slice(2);
const require = createRequire(join(process.cwd(), 'package.json'));
const lib = join(dirname(require.resolve('ssh2/package.json')), 'lib');

function load(file, hunks) {
  const filename = join(lib, file);
  let text = readFileSync(filename, 'utf8');
  for (const [find, replace] of hunks) {
    if (text.split(find).length !== 2) throw new Error(`hunk not unique in ${file}: ${find}`);
    text = text.replace(find, replace);
  }
  const m = new Module(filename);
  m.filename = filename;
  m.paths = Module._nodeModulePaths(dirname(filename));
  require.cache[filename] = m;
  m._compile(text, filename);
  m.loaded = true;
}
load('protocol/kex.js', [
  [`const sigType = this.negotiated.serverHostKey;`, `const sigType = ${JSON.stringify(sigType)};`],
  // The server's hash for RSA follows the signature name it writes.
  [
    `        switch (this.negotiated.serverHostKey) {
          case 'rsa-sha2-256': hashAlgo = 'sha256'; break;
          case 'rsa-sha2-512': hashAlgo = 'sha512'; break;
        }

        this._protocol._debug && this._protocol._debug(
          'Generating signature ...'
        );`,
    `        switch (${JSON.stringify(sigType)}) {
          case 'rsa-sha2-256': hashAlgo = 'sha256'; break;
          case 'rsa-sha2-512': hashAlgo = 'sha512'; break;
        }`,
  ],
]);
const keyParser = require(join(lib, 'protocol/keyParser.js'));
const realParse = keyParser.parseKey;
const signer = realParse(readFileSync(signWith));
const presented = Object.create(signer, {
  type: { value: algorithm },
  getPublicSSH: { value: () => Buffer.from(certB64, 'base64') },
});
keyParser.parseKey = (data, passphrase) => (data === 'HOSTILE' ? presented : realParse(data, passphrase));
const { Server } = require('ssh2');

const server = new Server({ hostKeys: ['HOSTILE'] }, (client) => {
  client.on('error', () => undefined);
  client.on('authentication', (ctx) => ctx.accept());
  client.on('ready', () => {
    client.on('session', (accept) => {
      const session = accept();
      session.on('exec', (acceptExec) => {
        const ch = acceptExec();
        ch.write('hostile\n');
        ch.exit(0);
        ch.end();
      });
    });
  });
});
server.listen(Number(port), host, () => process.stdout.write(`listening ${server.address().port}\n`));
