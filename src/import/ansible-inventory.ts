/**
 * Reads an Ansible inventory as Ansible's ini and yaml inventory plugins read it: groups, their
 * children and vars, hosts with their vars, host ranges (`web[01:03]`, `db-[a:c]`) and the
 * `host:port` shorthand; then the group_vars/ and host_vars/ folders beside the file. Values are
 * kept as read; a vault-encrypted one is kept as VAULT, never decrypted.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { isMap, isScalar, parseDocument, type ScalarTag } from 'yaml';
import { Findings, quoted } from './findings.js';
import { readConfigText } from './ssh-config-file.js';

/** A value encrypted with ansible-vault: never decrypted, never shown. */
export const VAULT = Symbol('vault');

export interface Var {
  value: unknown;
  where: string;
}

export interface AnsibleGroup {
  name: string;
  hosts: Set<string>;
  children: Set<string>;
  vars: Map<string, Var>;
  /** group_vars/<name>: above every group's inventory vars (Ansible's variable precedence). */
  fileVars: Map<string, Var>;
}

export interface AnsibleHost {
  name: string;
  where: string;
  /** The port of `host:port` in the inventory; ansible_port takes precedence. */
  port?: number;
  vars: Map<string, Var>;
  /** host_vars/<name>: above the inventory's host vars. */
  fileVars: Map<string, Var>;
}

export interface AnsibleInventory {
  groups: Map<string, AnsibleGroup>;
  hosts: Map<string, AnsibleHost>;
}

/** The most hosts one pattern may expand to: `h[0:999999]` is a typo, not a fleet. */
export const MAX_RANGE_HOSTS = 10_000;

export function readAnsibleInventory(path: string, findings: Findings): AnsibleInventory | undefined {
  const text = readConfigText(path, path, findings);
  if (text === undefined) return undefined;
  const inv: AnsibleInventory = { groups: new Map(), hosts: new Map() };
  group(inv, 'all');
  group(inv, 'ungrouped');
  if (/^\s*\$ANSIBLE_VAULT/.test(text)) {
    findings.unmapped(
      path,
      'encrypted with ansible-vault: not read (decrypt a copy with ansible-vault view, or run ansible-inventory --list -y, and import that)',
    );
    return undefined;
  }
  const ext = extname(path).toLowerCase();
  if (ext === '.yml' || ext === '.yaml' || ext === '.json') readYamlInventory(text, path, inv, findings);
  else readIniInventory(text, path, inv, findings);
  readVarsDirs(dirname(path), inv, findings);
  return inv;
}

function group(inv: AnsibleInventory, name: string): AnsibleGroup {
  let g = inv.groups.get(name);
  if (!g) {
    g = { name, hosts: new Set(), children: new Set(), vars: new Map(), fileVars: new Map() };
    inv.groups.set(name, g);
    if (name !== 'all') inv.groups.get('all')?.children.add(name);
  }
  return g;
}

function addHost(
  inv: AnsibleInventory,
  name: string,
  where: string,
  port: number | undefined,
  groupName: string,
  vars: Map<string, Var>,
): void {
  let h = inv.hosts.get(name);
  if (!h) {
    h = { name, where, vars: new Map(), fileVars: new Map() };
    inv.hosts.set(name, h);
  }
  if (port !== undefined) h.port = port;
  for (const [k, v] of vars) h.vars.set(k, v);
  group(inv, groupName).hosts.add(name);
}

// ---------------------------------------------------------------- INI

const SECTION_RE = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/;

export function readIniInventory(text: string, display: string, inv: AnsibleInventory, findings: Findings): void {
  let current = 'ungrouped';
  let state: 'hosts' | 'vars' | 'children' = 'hosts';
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const where = `${display}:${i + 1}`;
    const line = (lines[i] as string).trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[')) {
      const m = SECTION_RE.exec(line);
      if (!m) {
        findings.unmapped(
          where,
          `${quoted(line)} is not a section header ([group], [group:vars] or [group:children]); the section was skipped`,
        );
        current = '';
        continue;
      }
      const kind = m[2] ?? 'hosts';
      if (kind !== 'hosts' && kind !== 'vars' && kind !== 'children') {
        findings.unmapped(where, `section [${m[1] as string}:${kind}] has an unknown type (Ansible refuses it); skipped`);
        current = '';
        continue;
      }
      current = m[1] as string;
      state = kind;
      group(inv, current);
      continue;
    }
    if (current === '') continue;
    if (state === 'vars') {
      const eq = line.indexOf('=');
      if (eq === -1) {
        findings.unmapped(where, `expected key=value in [${current}:vars]; line skipped`);
        continue;
      }
      group(inv, current).vars.set(line.slice(0, eq).trim(), { value: iniValue(line.slice(eq + 1).trim()), where });
      continue;
    }
    const words = shellWords(line);
    if (words === undefined) {
      findings.unmapped(where, 'an unterminated quote; line skipped');
      continue;
    }
    if (words.length === 0) continue;
    if (state === 'children') {
      const child = words[0] as string;
      if (child === current) {
        findings.unmapped(where, `group ${quoted(current)} names itself as a child; skipped`);
        continue;
      }
      group(inv, child);
      group(inv, current).children.add(child);
      continue;
    }
    const vars = new Map<string, Var>();
    let bad = false;
    for (const [n, w] of words.slice(1).entries()) {
      const eq = w.indexOf('=');
      if (eq <= 0) {
        // The word is not shown: on a malformed line it may be a password.
        findings.unmapped(where, `expected key=value after the host, not word ${n + 2} of the line; line skipped`);
        bad = true;
        break;
      }
      vars.set(w.slice(0, eq), { value: iniValue(w.slice(eq + 1)), where });
    }
    if (bad) continue;
    const hosts = expandHostPattern(words[0] as string);
    if (typeof hosts === 'string') {
      findings.unmapped(where, `${quoted(words[0] as string)}: ${hosts}; line skipped`);
      continue;
    }
    for (const h of hosts.names) addHost(inv, h, where, hosts.port, current, vars);
  }
}

/** A value as Ansible's ini plugin reads it (ast.literal_eval, else the text): numbers, True/False, quoted strings. */
function iniValue(v: string): unknown {
  if (/^-?[0-9]+$/.test(v)) return Number(v);
  if (v === 'True') return true;
  if (v === 'False') return false;
  const q = /^(['"])(.*)\1$/s.exec(v);
  if (q) return q[2];
  return v;
}

/**
 * A line split as Python's shlex.split(line, comments=True) splits it: whitespace between words,
 * single quotes literal, double quotes with backslash escapes, a backslash escaping the next
 * character outside quotes, and an unquoted `#` ending the line. undefined: a quote left open.
 */
export function shellWords(line: string): string[] | undefined {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === ' ' || c === '\t' || c === '\r') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if (c === '#') {
      break;
    } else if (c === "'") {
      const close = line.indexOf("'", i + 1);
      if (close === -1) return undefined;
      word += line.slice(i + 1, close);
      inWord = true;
      i = close;
    } else if (c === '"') {
      inWord = true;
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && j + 1 < line.length && '"\\$`'.includes(line[j + 1] as string)) j++;
        word += line[j];
      }
      if (j >= line.length) return undefined;
      i = j;
    } else if (c === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/**
 * A host pattern of an inventory: `host`, `host:port`, `[v6::addr]:port`, and ranges —
 * `web[01:03]` (zero-padded as the start is), `web[1:9:2]` (a step), `db-[a:c]` — possibly
 * several in one name. A string says why not.
 */
export function expandHostPattern(pattern: string): { names: string[]; port?: number } | string {
  let name = pattern;
  let port: number | undefined;
  const v6 = /^\[([0-9A-Fa-f:.]+(?:%\w+)?)\](?::([0-9]+))?$/.exec(name);
  if (v6 && (v6[1] as string).includes(':') && !/^[^:]*:[^:]*$/.test(v6[1] as string)) {
    name = v6[1] as string;
    if (v6[2] !== undefined) port = Number(v6[2]);
  } else {
    const outside = name.replace(/\[[^\]]*\]/g, '');
    const colons = (outside.match(/:/g) ?? []).length;
    if (colons === 1) {
      const m = /^(.*):([0-9]+)$/.exec(name);
      if (!m) return 'a ":" that is not followed by a port number';
      name = m[1] as string;
      port = Number(m[2]);
    } else if (colons > 1) {
      // A bare IPv6 address: Ansible reads no port from it.
      return { names: [name] };
    }
  }
  if (port !== undefined && (port < 1 || port > 65535)) return `port ${port} is not from 1 to 65535`;
  const names = expandRanges(name);
  if (typeof names === 'string') return names;
  return port === undefined ? { names } : { names, port };
}

function expandRanges(name: string): string[] | string {
  const open = name.indexOf('[');
  if (open === -1) return [name];
  const close = name.indexOf(']', open);
  if (close === -1) return 'an unclosed "["';
  const head = name.slice(0, open);
  const tail = name.slice(close + 1);
  const parts = name.slice(open + 1, close).split(':');
  if (parts.length < 2 || parts.length > 3) return `the range [${name.slice(open + 1, close)}] is not [start:end] or [start:end:step]`;
  const [start, end, stepText] = parts as [string, string, string?];
  const step = stepText === undefined || stepText === '' ? 1 : Number(stepText);
  if (!Number.isInteger(step) || step < 1) return `the range step ${quoted(stepText ?? '')} is not a whole number above 0`;
  const values: string[] = [];
  if (/^[0-9]*$/.test(start) && /^[0-9]+$/.test(end)) {
    const from = start === '' ? 0 : Number(start);
    const to = Number(end);
    if (from > to) return `the range [${start}:${end}] ends before it starts`;
    if ((to - from) / step >= MAX_RANGE_HOSTS) return `the range [${start}:${end}] names more than ${MAX_RANGE_HOSTS} hosts`;
    const width = start.startsWith('0') && start.length > 1 ? start.length : 0;
    for (let n = from; n <= to; n += step) values.push(String(n).padStart(width, '0'));
  } else if (/^[a-zA-Z]$/.test(start) && /^[a-zA-Z]$/.test(end)) {
    const from = start.charCodeAt(0);
    const to = end.charCodeAt(0);
    if (from > to) return `the range [${start}:${end}] ends before it starts`;
    for (let n = from; n <= to; n += step) values.push(String.fromCharCode(n));
  } else return `the range [${start}:${end}] is neither numeric nor of single letters`;
  const rest = expandRanges(tail);
  if (typeof rest === 'string') return rest;
  if (values.length * rest.length > MAX_RANGE_HOSTS) return `the ranges name more than ${MAX_RANGE_HOSTS} hosts`;
  return values.flatMap((v) => rest.map((r) => `${head}${v}${r}`));
}

// ---------------------------------------------------------------- YAML

const vaultTag: ScalarTag = { tag: '!vault', resolve: () => VAULT };
const unsafeTag: ScalarTag = { tag: '!unsafe', resolve: (s: string) => s };

/** A YAML file as Ansible (PyYAML, YAML 1.1) reads it, `!vault` and `!unsafe` understood; undefined when it cannot be read. */
function parseYaml(text: string, display: string, findings: Findings): { data: unknown; lineOf: (offset: number) => number } | undefined {
  const doc = parseDocument(text, { version: '1.1', customTags: [vaultTag, unsafeTag], uniqueKeys: false, prettyErrors: false });
  const lineOf = (offset: number) => text.slice(0, offset).split('\n').length;
  if (doc.errors.length > 0) {
    const e = doc.errors[0] as { pos: [number, number]; message: string };
    findings.unmapped(`${display}:${lineOf(e.pos[0])}`, `YAML syntax: ${e.message.split('\n')[0] ?? ''}; the file was not read`);
    return undefined;
  }
  try {
    return { data: doc.toJS({ maxAliasCount: 1000 }), lineOf };
  } catch (err) {
    findings.unmapped(display, `YAML could not be read (${(err as Error).message.split('\n')[0] ?? ''}); the file was not read`);
    return undefined;
  }
}

/** The line of each host's key in a YAML inventory, for the comment that says where it came from. */
function keyLines(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  const doc = parseDocument(text, { version: '1.1', customTags: [vaultTag, unsafeTag], uniqueKeys: false });
  const walk = (node: unknown) => {
    if (!isMap(node)) return;
    for (const pair of node.items) {
      if (isScalar(pair.key) && typeof pair.key.value === 'string' && pair.key.range && !lines.has(pair.key.value))
        lines.set(pair.key.value, text.slice(0, pair.key.range[0]).split('\n').length);
      walk(pair.value);
    }
  };
  walk(doc.contents);
  return lines;
}

export function readYamlInventory(text: string, display: string, inv: AnsibleInventory, findings: Findings): void {
  const parsed = parseYaml(text, display, findings);
  if (!parsed) return;
  const { data } = parsed;
  const lines = keyLines(text);
  const at = (key: string) => `${display}:${lines.get(key) ?? 1}`;
  if (data === null || data === undefined) return;
  if (!isObject(data)) {
    findings.unmapped(display, 'expected a mapping of groups (all: {children: …, hosts: …}); the file was not read');
    return;
  }
  const seen = new Set<unknown>();
  const parseGroup = (name: string, body: unknown, depth: number) => {
    group(inv, name);
    if (body === null || body === undefined) return;
    if (!isObject(body) || seen.has(body) || depth > 100) {
      if (!isObject(body)) findings.unmapped(at(name), `group ${quoted(name)} is not a mapping (hosts:, children:, vars:); skipped`);
      return;
    }
    seen.add(body);
    for (const key of Object.keys(body)) {
      if (key !== 'hosts' && key !== 'children' && key !== 'vars')
        findings.unmapped(at(name), `group ${quoted(name)}: key ${quoted(key)} is not hosts, children or vars (Ansible skips it too)`);
    }
    const vars = body.vars;
    if (isObject(vars)) for (const [k, v] of Object.entries(vars)) group(inv, name).vars.set(k, { value: v, where: at(k) });
    else if (vars !== undefined && vars !== null) findings.unmapped(at(name), `group ${quoted(name)}: vars is not a mapping; skipped`);
    const children = body.children;
    if (isObject(children)) {
      for (const [child, childBody] of Object.entries(children)) {
        if (child === name) continue;
        parseGroup(child, childBody, depth + 1);
        group(inv, name).children.add(child);
      }
    } else if (children !== undefined && children !== null)
      findings.unmapped(at(name), `group ${quoted(name)}: children is not a mapping; skipped`);
    const hosts = body.hosts;
    if (isObject(hosts)) {
      for (const [pattern, hostVars] of Object.entries(hosts)) {
        const expanded = expandHostPattern(pattern);
        if (typeof expanded === 'string') {
          findings.unmapped(at(pattern), `${quoted(pattern)}: ${expanded}; skipped`);
          continue;
        }
        const vars = new Map<string, Var>();
        if (isObject(hostVars)) for (const [k, v] of Object.entries(hostVars)) vars.set(k, { value: v, where: at(pattern) });
        else if (hostVars !== null && hostVars !== undefined)
          findings.unmapped(at(pattern), `host ${quoted(pattern)}: its vars are not a mapping; read without them`);
        for (const h of expanded.names) addHost(inv, h, at(pattern), expanded.port, name, vars);
      }
    } else if (hosts !== undefined && hosts !== null) findings.unmapped(at(name), `group ${quoted(name)}: hosts is not a mapping; skipped`);
  };
  for (const [name, body] of Object.entries(data)) parseGroup(name, body, 0);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------- group_vars/, host_vars/

/** group_vars/<group> and host_vars/<host> beside the inventory: a YAML file (.yml, .yaml, .json or none), or a folder of them. */
function readVarsDirs(dir: string, inv: AnsibleInventory, findings: Findings): void {
  for (const [kind, names] of [
    ['group_vars', [...inv.groups.keys()]],
    ['host_vars', [...inv.hosts.keys()]],
  ] as const) {
    const base = join(dir, kind);
    let entries: string[];
    try {
      entries = readdirSync(base);
    } catch {
      continue;
    }
    for (const entry of entries.sort()) {
      const full = join(base, entry);
      const ext = extname(entry).toLowerCase();
      const name = ['.yml', '.yaml', '.json'].includes(ext) ? basename(entry, extname(entry)) : entry;
      if (entry.startsWith('.')) continue;
      if (!names.includes(name)) {
        findings.note(full, `no ${kind === 'group_vars' ? 'group' : 'host'} ${quoted(name)} in the inventory; not read`);
        continue;
      }
      const target =
        kind === 'group_vars' ? (inv.groups.get(name) as AnsibleGroup).fileVars : (inv.hosts.get(name) as AnsibleHost).fileVars;
      for (const file of varsFiles(full)) readVarsFile(file, target, findings);
    }
  }
}

function varsFiles(path: string): string[] {
  try {
    if (!statSync(path).isDirectory()) return [path];
    return readdirSync(path)
      .filter((f) => !f.startsWith('.'))
      .sort()
      .flatMap((f) => varsFiles(join(path, f)));
  } catch {
    return [];
  }
}

function readVarsFile(file: string, target: Map<string, Var>, findings: Findings): void {
  const ext = extname(file).toLowerCase();
  if (ext !== '' && !['.yml', '.yaml', '.json'].includes(ext)) return;
  const text = readConfigText(file, file, findings);
  if (text === undefined) return;
  if (/^\s*\$ANSIBLE_VAULT/.test(text)) {
    findings.unmapped(file, 'encrypted with ansible-vault: not read');
    return;
  }
  const parsed = parseYaml(text, file, findings);
  if (!parsed || parsed.data === null || parsed.data === undefined) return;
  if (!isObject(parsed.data)) {
    findings.unmapped(file, 'expected a mapping of variables; not read');
    return;
  }
  const lines = keyLines(text);
  for (const [k, v] of Object.entries(parsed.data)) target.set(k, { value: v, where: `${file}:${lines.get(k) ?? 1}` });
}
