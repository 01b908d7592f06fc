/**
 * Loads the tokens file of `serve --http`: the bearer tokens callers may send, each stored as the
 * SHA-256 of the token, with the principal and roles it stands for. Either every entry is valid
 * and no two share an id or a token, or a ConfigError lists every problem.
 */
import { ConfigError } from '../errors.js';
import { timestampOf, TokenEntry, TokensFile } from './file-formats.js';
import { IssueSink, readYamlFile } from './yaml-file.js';

export interface LoadedToken extends TokenEntry {
  /** When the token stops working, in ms since the epoch. */
  expiresAt?: number;
  /** `tokens.yml:4:5`: where the entry starts. */
  source: string;
}

export function loadTokensFile(path: string): LoadedToken[] {
  const sink = new IssueSink();
  const file = readYamlFile(path, path, sink);
  if (!file) throw new ConfigError(sink.issues);
  if (typeof file.data !== 'object' || file.data === null || Array.isArray(file.data)) {
    sink.at(file, [], 'expected a mapping with the list of tokens: "tokens:", then entries of id, principal, roles, sha256');
    throw new ConfigError(sink.issues);
  }
  const top = TokensFile.safeParse(file.data);
  if (!top.success) {
    sink.zod(file, [], top.error);
    throw new ConfigError(sink.issues);
  }
  const tokens: LoadedToken[] = [];
  const byId = new Map<string, number>();
  const byHash = new Map<string, number>();
  top.data.tokens.forEach((raw, index) => {
    const parsed = TokenEntry.safeParse(raw);
    if (!parsed.success) return sink.zod(file, ['tokens', index], parsed.error);
    const entry = parsed.data;
    const firstId = byId.get(entry.id);
    if (firstId !== undefined)
      return sink.at(file, ['tokens', index, 'id'], `duplicate token id "${entry.id}" (first defined in tokens[${firstId}])`);
    byId.set(entry.id, index);
    const firstHash = byHash.get(entry.sha256);
    if (firstHash !== undefined) {
      return sink.at(file, ['tokens', index, 'sha256'], `the same token as tokens[${firstHash}]; give each caller a token of its own`);
    }
    byHash.set(entry.sha256, index);
    const node = file.doc.getIn(['tokens', index], true) as { range?: [number, number, number] } | undefined;
    const pos = file.lines.linePos(node?.range?.[0] ?? 0);
    const expiresAt = entry.expires === undefined ? undefined : timestampOf(entry.expires);
    tokens.push({ ...entry, ...(expiresAt !== undefined ? { expiresAt } : {}), source: `${file.display}:${pos.line}:${pos.col}` });
  });
  if (sink.issues.length > 0) throw new ConfigError(sink.issues);
  return tokens;
}
