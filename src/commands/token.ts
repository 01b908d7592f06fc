/**
 * `sshgate token new`: a new bearer token for the tokens file. The token goes to stdout, once, and
 * nowhere else; the entry to add to the tokens file, which holds only its hash, goes to stderr.
 */
import { stringify } from 'yaml';
import { newToken } from '../auth/tokens.js';
import { TokenEntry } from '../config/file-formats.js';
import type { Io } from './context.js';
import { UsageError } from './usage.js';

export interface TokenNewOptions {
  id: string | undefined;
  principal: string | undefined;
  roles: readonly string[];
  expires: string | undefined;
}

const FLAG: Record<string, string> = { id: '--id', principal: '--principal', roles: '--role', expires: '--expires' };

export function tokenNewCommand(o: TokenNewOptions, io: Io): number {
  if (o.id === undefined || o.principal === undefined)
    throw new UsageError('token new needs --id and --principal: sshgate token new --id alice-laptop --principal alice --role ops');
  const { token, sha256 } = newToken();
  const parsed = TokenEntry.safeParse({ id: o.id, principal: o.principal, roles: o.roles, sha256, expires: o.expires });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const flag = FLAG[String(issue?.path[0])] ?? 'token new';
    throw new UsageError(`${flag}: ${issue?.message ?? 'not usable'}`);
  }
  const entry = parsed.data;
  const scalar = (v: string) => stringify(v).trimEnd();
  const lines = [
    `  - id: ${scalar(entry.id)}`,
    `    principal: ${scalar(entry.principal)}`,
    `    roles: [${entry.roles.map(scalar).join(', ')}]`,
    `    sha256: ${entry.sha256}`,
    ...(entry.expires === undefined ? [] : [`    expires: ${scalar(entry.expires)}`]),
  ];
  io.out(`${token}\n`);
  io.err(
    `sshgate: the token is on stdout, shown this once: give it to ${entry.principal}'s client.\n` +
      `Add this entry under "tokens:" in the tokens file (it holds the token's SHA-256 only):\n\n${lines.join('\n')}\n`,
  );
  return 0;
}
