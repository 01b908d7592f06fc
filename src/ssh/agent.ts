/**
 * The ssh-agent of SSH_AUTH_SOCK, certificates included: ssh2's own agent client drops every
 * identity it cannot parse as a plain key, and so every certificate. This one lists the identities
 * itself (draft-miller-ssh-agent: REQUEST_IDENTITIES) and offers a certificate as the certificate
 * (certificate-keys.ts); it signs with a certificate by asking the agent for that certificate's
 * signature, with the RSA SHA-2 flag its algorithm needs. Plain keys are listed and signed with as
 * ssh2's agent does.
 */
import { connect } from 'node:net';
import type { BaseAgent, ParsedKey, SignCallback, SigningRequestOptions } from 'ssh2';
import { blobType, isCertificateType, parseCertificate, signatureAlgorithm } from './certificates.js';
import { certifiedAgentKey } from './certificate-keys.js';
import type { Ssh2 } from './ssh2.js';
import { sshStrings, WireReader } from './wire.js';

const FAILURE = 5;
const REQUEST_IDENTITIES = 11;
const IDENTITIES_ANSWER = 12;
const SIGN_REQUEST = 13;
const SIGN_RESPONSE = 14;
const RSA_SHA2_256 = 2;
const RSA_SHA2_512 = 4;
/** OpenSSH's agent refuses messages over 256 KiB (AGENT_MAX_LEN); an answer larger is not an agent's. */
const MAX_MESSAGE = 256 * 1024;
/** An agent answers at once; one that does not is not waited on past this. */
const ANSWER_MS = 10_000;

/** An agent client for `socketPath` that offers certificates too; built on the loaded ssh2's agent classes. */
export function certificateAgent(ssh2: Ssh2, socketPath: string): BaseAgent {
  const certificateKeys = new WeakSet<object>();
  class CertificateAgent extends ssh2.OpenSSHAgent {
    override getIdentities(cb: (err?: Error | null, keys?: ParsedKey[]) => void): void {
      agentRequest(socketPath, Buffer.from([REQUEST_IDENTITIES]), IDENTITIES_ANSWER).then(
        (answer) => {
          try {
            cb(null, identities(ssh2, answer, certificateKeys));
          } catch (err) {
            cb(new Error(`malformed answer from the agent: ${(err as Error).message}`));
          }
        },
        (err: Error) => cb(err),
      );
    }

    override sign(
      pubKey: ParsedKey | Buffer | string,
      data: Buffer,
      options?: SigningRequestOptions | SignCallback,
      cb?: SignCallback,
    ): boolean {
      const done: SignCallback = (typeof options === 'function' ? options : cb) ?? (() => undefined);
      const opts = typeof options === 'object' ? options : {};
      if (typeof pubKey === 'string' || Buffer.isBuffer(pubKey) || !certificateKeys.has(pubKey))
        return super.sign(pubKey, data, opts, done);
      const algorithm = signatureAlgorithm(pubKey.type);
      const flags = algorithm === 'rsa-sha2-512' ? RSA_SHA2_512 : algorithm === 'rsa-sha2-256' ? RSA_SHA2_256 : 0;
      const flagBytes = Buffer.alloc(4);
      flagBytes.writeUInt32BE(flags);
      const request = Buffer.concat([Buffer.from([SIGN_REQUEST]), sshStrings(pubKey.getPublicSSH(), data), flagBytes]);
      agentRequest(socketPath, request, SIGN_RESPONSE).then(
        (answer) => {
          try {
            const r = new WireReader(answer);
            const blob = new WireReader(r.bytes('the signature'));
            const signedWith = blob.text('the signature algorithm');
            const signature = blob.bytes('the signature');
            // An agent that ignored the SHA-2 flag signed with SHA-1, which the host would refuse.
            if (signedWith !== algorithm) return done(new Error(`the agent signed with ${signedWith}, not ${algorithm}`));
            done(null, Buffer.from(signature));
          } catch (err) {
            done(new Error(`malformed signature from the agent: ${(err as Error).message}`));
          }
        },
        (err: Error) => done(err),
      );
      return true;
    }
  }
  return new CertificateAgent(socketPath);
}

/** The agent's identities in its order: certificates as certificate keys, plain keys as ssh2 parses them, others left out. */
function identities(ssh2: Ssh2, answer: Buffer, certificateKeys: WeakSet<object>): ParsedKey[] {
  const r = new WireReader(answer);
  const count = r.uint32('the number of identities');
  const keys: ParsedKey[] = [];
  for (let i = 0; i < count; i++) {
    const blob = Buffer.from(r.bytes('an identity'));
    const comment = r.bytes('its comment').toString('utf8');
    const type = blobType(blob) ?? '';
    if (!isCertificateType(type)) {
      const plain = ssh2.utils.parseKey(blob);
      if (!(plain instanceof Error) && !Array.isArray(plain)) keys.push(plain);
      continue;
    }
    let certifiedKey: Buffer;
    try {
      certifiedKey = parseCertificate(blob).key;
    } catch {
      continue;
    }
    const plain = ssh2.utils.parseKey(certifiedKey);
    if (plain instanceof Error || Array.isArray(plain)) continue;
    const key = certifiedAgentKey(plain, blob, type, comment);
    certificateKeys.add(key);
    keys.push(key);
  }
  return keys;
}

/** One request to the agent, and the body of its answer of type `expect` (a FAILURE answer is an error). */
function agentRequest(socketPath: string, body: Buffer, expect: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let got = Buffer.alloc(0);
    const finish = (err: Error | undefined, value?: Buffer) => {
      socket.destroy();
      if (err) reject(err);
      else resolve(value as Buffer);
    };
    socket.setTimeout(ANSWER_MS, () => finish(new Error('the agent did not answer')));
    socket.once('error', () => finish(new Error('Failed to connect to agent')));
    socket.once('close', () => finish(new Error('the agent closed the connection without an answer')));
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length < 4) return;
      const len = got.readUInt32BE(0);
      if (len === 0 || len > MAX_MESSAGE) return finish(new Error('the agent sent a message of an impossible length'));
      if (got.length < 4 + len) return;
      const type = got[4] as number;
      if (type === FAILURE) return finish(new Error('the agent refused the request'));
      if (type !== expect) return finish(new Error(`the agent answered with message ${type}, not ${expect}`));
      finish(undefined, got.subarray(5, 4 + len));
    });
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    socket.write(Buffer.concat([len, body]));
  });
}
