/**
 * Reads one YAML file defensively and locates problems in it: every issue carries the file, the
 * line and the column, so a reviewer can jump straight to it.
 */
import { closeSync, constants, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isNode, LineCounter, parseAllDocuments, type Document } from 'yaml';
import type { z } from 'zod';
import { DEFAULTS } from '../defaults.js';
import { ConfigError, type FileIssue } from '../errors.js';

export interface YamlFile {
  /** The name shown in messages: the path as the user gave it. */
  display: string;
  doc: Document;
  lines: LineCounter;
  data: unknown;
}

type PathKey = string | number;

/** Collects issues against one file. */
export class IssueSink {
  readonly issues: FileIssue[] = [];

  at(file: YamlFile, path: readonly PathKey[], message: string, onKey = false): void {
    const offset = offsetOf(file.doc, path, onKey);
    const pos = file.lines.linePos(offset);
    this.issues.push({ file: file.display, line: pos.line, col: pos.col, message });
  }

  whole(display: string, message: string): void {
    this.issues.push({ file: display, line: 1, col: 1, message });
  }

  /**
   * Reports zod's issues, each at the place in the file it is about: the first per node only, since
   * a value too long and full of control characters is one thing to fix, not two.
   */
  zod(file: YamlFile, prefix: readonly PathKey[], error: z.ZodError): void {
    const reported = new Set<string>();
    for (const issue of error.issues) {
      const path = [...prefix, ...(issue.path as PathKey[])];
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) this.at(file, [...path, key], `unknown key "${key}"; ${issue.message}`, true);
        continue;
      }
      const node = JSON.stringify(path);
      if (reported.has(node)) continue;
      reported.add(node);
      this.at(file, path, `${describePath(path)}: ${issue.message}`);
    }
  }
}

/** `hosts[2].port` — the path as a person reads it. */
export function describePath(path: readonly PathKey[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out === '' ? key : `.${key}`;
  return out === '' ? 'the file' : out;
}

/**
 * Parses a YAML file into plain data, or reports why it cannot: too large, binary, not UTF-8,
 * malformed, several documents, or an alias expansion bomb. Never throws.
 */
export function readYamlFile(path: string, display: string, sink: IssueSink): YamlFile | undefined {
  let bytes: Buffer;
  try {
    const read = readBounded(path, DEFAULTS.maxFileBytes);
    if (typeof read === 'string') {
      sink.whole(display, read);
      return undefined;
    }
    bytes = read;
  } catch (err) {
    sink.whole(display, readErrorMessage(err));
    return undefined;
  }
  const nul = bytes.indexOf(0);
  if (nul !== -1) {
    sink.whole(display, `binary file (NUL byte at offset ${nul}); expected YAML text`);
    return undefined;
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    sink.whole(display, 'file is not valid UTF-8 text; expected YAML');
    return undefined;
  }

  const lines = new LineCounter();
  const stream = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const docs = Array.from(stream as ArrayLike<Document>);
  if (docs.length > 1) {
    const second = docs[1];
    const pos = lines.linePos(second?.range?.[0] ?? 0);
    sink.issues.push({ file: display, line: pos.line, col: pos.col, message: 'a second YAML document; expected one document per file' });
    return undefined;
  }
  const doc = docs[0];
  if (doc === undefined) {
    sink.whole(display, 'file is empty; expected a YAML mapping');
    return undefined;
  }
  // YAML 1.1 reads `0100` as 64 and `yes` as true: a reviewer would not see what the file means.
  if (doc.directives?.yaml.version !== '1.2') {
    sink.whole(display, `a %YAML ${doc.directives?.yaml.version ?? ''} directive; sshgate reads YAML 1.2 only`);
    return undefined;
  }
  // The first syntax error only: the parser goes on past it and reports what it then misreads
  // (one tab in an indentation is 8 errors), which sends a reader to lines that are fine. With no
  // syntax error, warnings too: an unknown tag (`!!js/function`, `!deny`) is dropped by the
  // parser, and the value read as a plain string would not mean what its author meant.
  const problems =
    doc.errors.length > 0
      ? doc.errors.slice(0, 1).map((e) => ({ e, what: 'YAML syntax' }))
      : doc.warnings.map((e) => ({ e, what: 'YAML' }));
  if (problems.length > 0) {
    for (const { e, what } of problems) {
      const pos = lines.linePos(e.pos[0]);
      sink.issues.push({ file: display, line: pos.line, col: pos.col, message: `${what}: ${firstLine(e.message)}` });
    }
    return undefined;
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: DEFAULTS.maxYamlAliases });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    sink.whole(
      display,
      /alias/i.test(message)
        ? `too many YAML alias expansions (at most ${DEFAULTS.maxYamlAliases}); a file that expands hugely is refused`
        : `YAML could not be read: ${firstLine(message)}`,
    );
    return undefined;
  }
  return { display, doc, lines, data };
}

/**
 * At most `max` bytes of a regular file, or why not: a FIFO would block, and a device or a /proc
 * file reports no size that bounds what it yields.
 */
function readBounded(path: string, max: number): Buffer | string {
  // Non-blocking: opening a FIFO for reading would otherwise wait for a writer, forever.
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return 'not a regular file; expected a YAML file';
    if (st.size > max) return `file is ${st.size} bytes; configuration files are limited to ${max} bytes`;
    const buf = Buffer.alloc(Math.min(st.size, max) + 1);
    let n = 0;
    for (let r = -1; r !== 0 && n < buf.length; n += r) r = readSync(fd, buf, n, buf.length - n, null);
    if (n > max) return `file is over ${max} bytes; configuration files are limited to ${max} bytes`;
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

function offsetOf(doc: Document, path: readonly PathKey[], onKey: boolean): number {
  const fallback = doc.contents && isNode(doc.contents) ? (doc.contents.range?.[0] ?? 0) : 0;
  // Walk as deep as the path exists; a missing key is reported at its parent.
  for (let depth = path.length; depth >= 0; depth--) {
    const sub = path.slice(0, depth);
    if (onKey && depth === path.length && depth > 0) {
      const parent = sub.length === 1 ? doc.contents : doc.getIn(sub.slice(0, -1), true);
      if (isMap(parent)) {
        const key = sub[sub.length - 1];
        const pair = parent.items.find((p) => isNode(p.key) && (p.key as { value?: unknown }).value === key);
        if (pair && isNode(pair.key) && pair.key.range) return pair.key.range[0];
      }
      continue;
    }
    const node = depth === 0 ? doc.contents : doc.getIn(sub, true);
    if (isNode(node) && node.range) return node.range[0];
  }
  return fallback;
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

export function readErrorMessage(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied reading the file';
  if (code === 'EISDIR') return 'is a directory; expected a YAML file';
  return `cannot read the file (${code ?? 'unknown error'})`;
}

/** A YAML file as given, or the *.yml / *.yaml files directly inside a folder, in name order. */
export function yamlFilesAt(path: string): string[] {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    throw new ConfigError([{ file: path, line: 1, col: 1, message: readErrorMessage(err) }]);
  }
  if (!isDir) return [path];
  // Any case: a Deny.YML passed over would be deny rules that never apply. Anything but a folder
  // stays in — a dangling link, a FIFO, a device — and is reported as the file it should have been.
  const notAFolder = (f: string) => {
    try {
      return !statSync(f).isDirectory();
    } catch {
      return true;
    }
  };
  return readdirSync(path)
    .filter((f) => /\.ya?ml$/i.test(f))
    .sort()
    .map((f) => join(path, f))
    .filter(notAFolder);
}
