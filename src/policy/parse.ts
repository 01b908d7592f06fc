/**
 * Turns a command line into the simple commands a POSIX shell would run, so the policy can judge
 * each one. Parsing is done by tree-sitter-bash (the grammar maintained by the tree-sitter
 * project, run as WebAssembly: no native build). Every word is then decoded again by our own
 * strict quote removal, and any node this walker does not know is reported as unsupported, which
 * the policy always denies.
 */
import { createRequire } from 'node:module';
import type { Node, Parser } from 'web-tree-sitter';
import { compileWasmWithoutTierUp } from '../memory.js';
import { commandInputProblem } from './command-input.js';
import { lex, signature, type Dialect, type Lexed, type Token } from './lexer.js';
import { decodeWord, quoteWord, WILD_ALL, wildForm } from './words.js';

/** Past these a command is denied unread: no person types more into one command line. */
const MAX_TOKENS = 1024;
const MAX_COMMANDS = 256;
/**
 * A command the strict lexer cannot read is given to the grammar, for a precise reason, only up
 * to this length: the grammar's error recovery is quadratic (4 KiB of `<>` took 360 ms, 512 bytes 29 ms).
 */
const LONG_UNREADABLE = 256;

/** Constructs that are denied unless an allow rule names them explicitly. */
export type Feature = 'substitution' | 'process_substitution' | 'expansion' | 'redirection' | 'heredoc' | 'assignment';

export interface Segment {
  /** Canonical text: words after quote removal, re-quoted one way, single spaces. */
  text: string;
  /**
   * Decoded words, assignments excluded. A word whose value comes from an expansion or a
   * substitution stands here as its source text, and its index is in `dynamic`.
   */
  argv: string[];
  /** Indices in argv of words the shell computes (`$x`, `${x-…}`, `$(…)`): their value is unknown. */
  dynamic?: number[];
  features: Feature[];
  /** Inside a command or process substitution of another segment. */
  nested: boolean;
  /** Why the segment cannot be classified; such a segment is always denied. */
  unsupported?: string;
  /**
   * When an argument holds wildcards the shell would expand: the words with those wildcards as
   * WILD_ANY/WILD_ONE (the others as in `text`), so that deny rules see every name they may become.
   */
  wild?: string[];
}

export type ParseResult = { ok: true; segments: Segment[] } | { ok: false; reason: string };

export interface ShellParser {
  /** Reads the command as the host's pinned shell would (bash unless said otherwise). */
  parse(command: string, dialect?: Dialect): ParseResult;
}

const SEPARATORS = new Set([';', '&', '&&', '||', '|', '|&', '\n']);
/** The delimiters of a substitution, seen as tokens when walking its inside. */
const SUBSTITUTION_DELIMITERS = new Set(['$(', '`', ')', '<(', '>(']);
const FD_DUP_OPS = new Set(['>&', '<&']);
const OUTPUT_OPS = new Set(['>', '>>', '&>', '&>>', '>|', '>&']);
const WORD_TYPES = new Set(['word', 'string', 'string_content', 'raw_string', 'concatenation', 'number']);
const EXPANSION_TYPES = new Set(['simple_expansion', 'expansion', 'arithmetic_expansion']);
/**
 * Parameter expansions that evaluate arithmetic: substrings `${x:1}` (but not `${x:-…}`,
 * `${x:=…}`, `${x:?…}`, `${x:+…}`), subscripts `${x[…]}`, indirection `${!x}`, and `$[…]`.
 */
const ARITHMETIC_EXPANSION = /^\$\{!|^\$\{#?[A-Za-z_][A-Za-z0-9_]*\[|^\$\{#?[A-Za-z_0-9@*]+:[^-=?+]|^\$\[/;
const DESCRIBED: Record<string, string> = {
  subshell: 'a subshell ( … )',
  compound_statement: 'a command group { … }',
  if_statement: 'an if statement',
  for_statement: 'a for loop',
  c_style_for_statement: 'a for loop',
  while_statement: 'a while/until loop',
  case_statement: 'a case statement',
  function_definition: 'a function definition',
  negated_command: 'a negated command (!)',
  test_command: 'a test expression [ … ]',
  declaration_command: 'a declaration (export/declare/local/readonly)',
  unset_command: 'unset',
  ansi_c_string: "ANSI-C quoting $'…'",
  translated_string: 'a translated string $"…"',
  brace_expression: 'brace expansion',
  extglob_pattern: 'an extended glob',
  arithmetic_expansion: 'arithmetic expansion $((…))',
};

export async function createShellParser(): Promise<ShellParser> {
  const require = createRequire(import.meta.url);
  compileWasmWithoutTierUp();
  // Loaded here, not with this module: a server builds its engine before it loads the grammar.
  // Required (the package's CommonJS build), not imported: code started from the Docker image's
  // startup snapshot has no import() (src/snapshot.ts).
  const { Language, Parser } = require('web-tree-sitter') as typeof import('web-tree-sitter');
  await Parser.init();
  const bash = await Language.load(require.resolve('tree-sitter-bash/tree-sitter-bash.wasm'));
  const parser = new Parser();
  parser.setLanguage(bash);
  return { parse: (command, dialect = 'bash') => parseCommand(parser, command, dialect) };
}

function parseCommand(parser: Parser, command: string, dialect: Dialect): ParseResult {
  // The tools refuse these as invalid_input before the policy is asked; the engine denies them
  // all the same, for its callers that are no tool (plan, policy tests, the fuzzer).
  const problem = commandInputProblem(command);
  if (problem) return { ok: false, reason: problem.reason };
  // The strict lexer is linear and reads first: it bounds what the grammar (far slower per
  // token) and the rules are given, so no command of any shape takes long to decide.
  const shell = lex(command, dialect);
  if (shell.ok) {
    const tokens = shell.commands.reduce((n, c) => n + c.length, shell.others.length + shell.parts);
    if (tokens > MAX_TOKENS)
      return { ok: false, reason: `the command has ${tokens} words, operators and quoted parts; at most ${MAX_TOKENS} are judged` };
    if (shell.commands.length > MAX_COMMANDS)
      return { ok: false, reason: `the command has ${shell.commands.length} simple commands; at most ${MAX_COMMANDS} are judged` };
  } else if (command.length > LONG_UNREADABLE) {
    return { ok: false, reason: lexReason(shell, dialect) };
  }
  const tree = parser.parse(command);
  if (!tree) return { ok: false, reason: 'the command could not be parsed' };
  try {
    const root = tree.rootNode;
    if (root.hasError) return { ok: false, reason: syntaxErrorReason(root) };
    const out: Segment[] = [];
    const log: TokenLog = { commands: [], others: [] };
    walkList(root, { nested: false, out, log });
    if (out.length === 0) return { ok: false, reason: 'the command has nothing to run (only comments?)' };
    if (out.some((seg) => seg.unsupported)) return { ok: true, segments: out };
    const disagreement = compareWithShell(shell, dialect, root, log);
    if (disagreement) return { ok: false, reason: disagreement };
    return { ok: true, segments: out };
  } catch (err) {
    // The walk recurses with the nesting: `$($($(…)))` thousands deep runs out of stack. Such a
    // command is denied, with a reason, like any other it cannot judge — and audited as one.
    if (err instanceof RangeError) return { ok: false, reason: 'the command nests too deeply to be judged' };
    throw err;
  } finally {
    tree.delete();
  }
}

function syntaxErrorReason(root: Node): string {
  let bad: Node | null = null;
  const visit = (n: Node): void => {
    if (bad) return;
    if (n.isError || n.isMissing) {
      bad = n;
      return;
    }
    for (const c of n.children) if (c) visit(c);
  };
  visit(root);
  const at = bad as Node | null;
  const where = at ? ` near line ${at.startPosition.row + 1}, column ${at.startPosition.column + 1}` : '';
  return `the command is not valid shell syntax${where} (an unbalanced quote, bracket or operator?)`;
}

/** What the walk has read, token by token, to be compared with the shell's reading (lexer.ts). */
interface TokenLog {
  commands: Token[][];
  others: Token[];
}

/** Where the walk is: inside a substitution or not, where segments go, and the token log. */
interface Walk {
  nested: boolean;
  out: Segment[];
  log: TokenLog;
}

/**
 * The grammar's reading against the pinned shell's (lexer.ts): the same simple commands made of
 * the same words, operators, comments and heredoc ends at the same offsets, or a reason to deny.
 */
function compareWithShell(shell: Lexed, dialect: Dialect, root: Node, log: TokenLog): string | undefined {
  const name = dialect;
  if (!shell.ok) return lexReason(shell, dialect);
  const others = [...log.others];
  const leaves = (n: Node): void => {
    if (n.type === 'comment') others.push({ kind: 'comment', start: n.startIndex, end: n.endIndex });
    else if (n.type === 'heredoc_end') others.push({ kind: 'heredoc_end', start: n.startIndex, end: n.endIndex });
    else for (const c of n.children) if (c) leaves(c);
  };
  leaves(root);
  const ours = signature(log.commands, others).split('\n');
  const theirs = signature(shell.commands, shell.others).split('\n');
  if (ours.length === theirs.length && ours.every((line, i) => line === theirs[i])) return undefined;
  const at = firstDifference(ours, theirs);
  return `${name} would split this command differently from how it reads here${at === undefined ? '' : ` (near offset ${at})`}; write it more plainly`;
}

function lexReason(shell: Lexed & { ok: false }, dialect: Dialect): string {
  return `the command cannot be judged as ${dialect} reads it: ${shell.reason} (offset ${shell.at})`;
}

/** The offset of the first token the two signatures disagree on. */
function firstDifference(a: string[], b: string[]): number | undefined {
  const offsets = (lines: string[]) => new Set(lines.flatMap((l) => [...l.matchAll(/ (\d+)-\d+/g)].map((m) => Number(m[1]))));
  const x = offsets(a);
  const y = offsets(b);
  const only = [...x].filter((o) => !y.has(o)).concat([...y].filter((o) => !x.has(o)));
  return only.length > 0 ? Math.min(...only) : undefined;
}

function unsupported(what: string, nested: boolean, source: string): Segment {
  return { text: collapse(source), argv: [], features: [], nested, unsupported: what };
}

function collapse(source: string): string {
  return source.replace(/\s+/g, ' ').trim();
}

function walkList(node: Node, walk: Walk, delimiters?: Set<string>): void {
  for (const child of node.children) {
    if (!child) continue;
    if (!child.isNamed) {
      if (delimiters?.has(child.type)) continue;
      if (!SEPARATORS.has(child.type)) walk.out.push(unsupported(`the operator "${child.type}"`, walk.nested, child.text));
      else if (child.type !== '\n') walk.log.others.push({ kind: 'control', op: child.type, start: child.startIndex, end: child.endIndex });
      continue;
    }
    statement(child, walk);
  }
}

function statement(node: Node, walk: Walk): void {
  switch (node.type) {
    case 'comment':
      return;
    case 'list':
    case 'pipeline':
      walkList(node, walk);
      return;
    case 'command':
      simpleCommand(node, [], walk);
      return;
    case 'redirected_statement': {
      const body = node.childForFieldName('body');
      const redirects = node.namedChildren.filter((c): c is Node => c !== null && c.id !== body?.id);
      if (body?.type === 'command') simpleCommand(body, redirects, walk);
      else walk.out.push(unsupported(`a redirection of ${describe(body?.type ?? 'nothing')}`, walk.nested, node.text));
      return;
    }
    case 'variable_assignment':
      simpleCommand(node, [], walk, true);
      return;
    default:
      walk.out.push(unsupported(describe(node.type), walk.nested, node.text));
  }
}

function describe(type: string): string {
  return DESCRIBED[type] ?? `the shell construct "${type}"`;
}

interface Builder {
  walk: Walk;
  features: Set<Feature>;
  /** Segments found inside substitutions; reported after the command that holds them. */
  inner: Segment[];
  /** This command's tokens, for the comparison with the shell's reading. */
  tokens: Token[];
  problem?: string;
}

interface WordInfo {
  start: number;
  text: string;
  value?: string;
  unquotedGlob: boolean;
  /** The word with the shell's wildcards marked (see wildForm), or as in the text. */
  wild?: string;
}

function simpleCommand(cmd: Node, redirects: Node[], walk: Walk, bareAssignment = false): void {
  const inner: Segment[] = [];
  const b: Builder = { walk: { ...walk, out: inner }, features: new Set(), inner, tokens: [] };
  const assignments: string[] = [];
  const words: WordInfo[] = [];
  const redirTexts: string[] = [];

  const redirect = (r: Node) => handleRedirect(r, b, words, redirTexts);
  if (bareAssignment) {
    b.features.add('assignment');
    assignments.push(assignmentText(cmd, b));
  } else {
    for (const child of cmd.children) {
      if (!child) continue;
      if (child.type === 'variable_assignment') {
        b.features.add('assignment');
        assignments.push(assignmentText(child, b));
      } else if (child.type === 'command_name') {
        const w = child.namedChildren[0];
        if (w) words.push(word(w, b));
      } else if (child.type.endsWith('_redirect')) {
        redirect(child);
      } else if (child.type !== 'comment') {
        // Unnamed children too: the grammar makes tokens of `==` and `=~`; the shell passes
        // them as arguments like any word.
        words.push(word(child, b));
      }
    }
  }
  for (const r of redirects) redirect(r);
  walk.log.commands.push(b.tokens);

  words.sort((x, y) => x.start - y.start);
  const name = words[0];
  if (name?.unquotedGlob) b.problem ??= 'a wildcard in the command name';
  const text = [...assignments, ...words.map((w) => w.text), ...redirTexts].join(' ');
  const argv = words.map((w) => w.value ?? w.text);
  const seg: Segment = { text, argv, features: [...b.features].sort(), nested: walk.nested };
  const dynamic = words.flatMap((w, i) => (w.value === undefined ? [i] : []));
  if (dynamic.length > 0) seg.dynamic = dynamic;
  // For deny rules, a computed word may be anything: WILD_ALL, which also spans "/" and spaces.
  if (dynamic.length > 0 || words.some((w) => w.unquotedGlob))
    seg.wild = words.map((w) => (w.value === undefined ? WILD_ALL : (w.wild ?? w.text)));
  if (b.problem) seg.unsupported = b.problem;
  walk.out.push(seg, ...b.inner);
}

function assignmentText(node: Node, b: Builder): string {
  const nameNode = node.childForFieldName('name');
  const valueNode = node.childForFieldName('value');
  if (!nameNode || nameNode.type !== 'variable_name') {
    b.problem ??= describe(node.type);
    return collapse(node.text);
  }
  b.tokens.push({ kind: 'word', start: node.startIndex, end: node.endIndex });
  if (!valueNode) return `${nameNode.text}=`;
  return `${nameNode.text}=${word(valueNode, b, 'value').text}`;
}

/**
 * Records the substitutions and expansions under `n` (walking into substitutions as nested
 * segments) and returns whether there were any. Outside expansions and heredoc bodies, a node
 * that is not part of a plain word is a construct we do not classify.
 */
function scan(n: Node, b: Builder, lenient: boolean): boolean {
  if (n.type === 'command_substitution' || n.type === 'process_substitution') {
    b.features.add(n.type === 'command_substitution' ? 'substitution' : 'process_substitution');
    walkList(n, { ...b.walk, nested: true }, SUBSTITUTION_DELIMITERS);
    return true;
  }
  let dynamic = false;
  if (n.type === 'arithmetic_expansion' || (n.type === 'expansion' && ARITHMETIC_EXPANSION.test(n.text))) {
    // bash evaluates these as arithmetic, and arithmetic evaluates variables' contents as
    // expressions again: `$((x))` with x='a[$(reboot)]' runs reboot. Never allowed.
    b.problem ??= 'arithmetic evaluation ($((…)), $[…], ${x:offset}, ${x[…]}, ${!x})';
  }
  if (EXPANSION_TYPES.has(n.type)) {
    b.features.add('expansion');
    dynamic = true;
    lenient = true;
  } else if (!lenient && n.isNamed && !WORD_TYPES.has(n.type)) {
    b.problem ??= describe(n.type);
  }
  for (const c of n.children) if (c && scan(c, b, lenient)) dynamic = true;
  return dynamic;
}

/**
 * Analyses one word: a literal gets decoded; one with substitutions or expansions keeps its
 * source. The word is logged as a token of `kind` (an assignment's value is part of its word).
 */
function word(node: Node, b: Builder, kind: Token['kind'] | 'value' = 'word'): WordInfo {
  const start = node.startIndex;
  if (kind !== 'value') b.tokens.push({ kind, start, end: node.endIndex });
  const problemBefore = b.problem;
  if (scan(node, b, false) || b.problem !== problemBefore) {
    return { start, text: collapse(node.text), unquotedGlob: false };
  }
  const decoded = decodeWord(node.text);
  if (!decoded.ok) {
    b.problem ??= `a word that is not plain text (${decoded.reason}): ${collapse(node.text)}`;
    return { start, text: collapse(node.text), unquotedGlob: false };
  }
  const text = quoteWord(decoded.value);
  return {
    start,
    text,
    value: decoded.value,
    unquotedGlob: decoded.unquotedGlob,
    wild: decoded.unquotedGlob ? wildForm(decoded.value, decoded.globs) : text,
  };
}

/**
 * Checks a heredoc the way the shell will read it, not the grammar: its delimiter must be a plain
 * word, its body must end at the first line that is exactly the delimiter (tree-sitter also ends
 * it at " EOF" or at a quoted spelling), and a body the shell would expand (unquoted delimiter
 * with $, ` or \\ in it) is refused. Returns what is wrong, or undefined.
 */
function heredocTrouble(r: Node, op: string): string | undefined {
  const start = r.namedChildren.find((c) => c?.type === 'heredoc_start');
  const end = r.namedChildren.find((c) => c?.type === 'heredoc_end');
  const body = r.namedChildren.find((c) => c?.type === 'heredoc_body');
  if (!start || !end) return 'a heredoc without its end line';
  const delim = decodeWord(start.text);
  if (!delim.ok || !/^[A-Za-z0-9_]+$/.test(delim.value)) return 'a heredoc whose delimiter is not a plain word (letters, digits, _)';
  const quoted = /['"\\]/.test(start.text);
  const source = r.tree.rootNode.text;
  const stripTabs = op === '<<-';
  const line = (s: string) => (stripTabs ? s.replace(/^\t+/, '') : s);
  const endLineStart = source.lastIndexOf('\n', end.startIndex - 1) + 1;
  const nl = source.indexOf('\n', end.startIndex);
  const endLine = source.slice(endLineStart, nl === -1 ? undefined : nl);
  if (line(endLine) !== delim.value) return 'a heredoc whose end line the shell would not see as its end';
  const bodyStart = source.indexOf('\n', start.endIndex) + 1;
  const bodyText = bodyStart > 0 && bodyStart <= endLineStart ? source.slice(bodyStart, endLineStart) : '';
  if (bodyText.split('\n').some((l) => line(l) === delim.value)) return 'a heredoc that the shell would end earlier than it seems to';
  if (!quoted && /[$`\\]/.test(body?.text ?? bodyText)) return "a heredoc body the shell would expand (quote the delimiter: <<'EOF')";
  return undefined;
}

function handleRedirect(r: Node, b: Builder, words: WordInfo[], redirTexts: string[]): void {
  if (r.type === 'heredoc_redirect' || r.type === 'herestring_redirect') {
    b.features.add('heredoc');
    const opNode = r.children.find((c) => c && !c.isNamed);
    const op = opNode?.type ?? '<<';
    if (opNode) b.tokens.push({ kind: 'redirect', op, start: opNode.startIndex, end: opNode.endIndex });
    if (r.type === 'herestring_redirect') {
      const target = r.namedChildren[0];
      redirTexts.push(`${op} ${target ? word(target, b, 'target').text : ''}`.trim());
      return;
    }
    const start = r.namedChildren.find((c) => c?.type === 'heredoc_start');
    if (start) b.tokens.push({ kind: 'target', start: start.startIndex, end: start.endIndex });
    redirTexts.push(`${op}${start?.text ?? ''}`);
    const trouble = heredocTrouble(r, op);
    if (trouble) b.problem ??= trouble;
    for (const c of r.namedChildren) {
      if (!c) continue;
      if (c.type === 'heredoc_body') scan(c, b, true);
      else if (c.type !== 'heredoc_start' && c.type !== 'heredoc_end') statement(c, b.walk);
    }
    return;
  }
  if (r.type !== 'file_redirect') {
    b.problem ??= describe(r.type);
    return;
  }
  const opNode = r.children.find((c) => c && !c.isNamed);
  const op = opNode?.type ?? '';
  const fdNode = r.namedChildren.find((c) => c?.type === 'file_descriptor');
  const fd = fdNode?.text ?? '';
  if (fdNode) b.tokens.push({ kind: 'fd', start: fdNode.startIndex, end: fdNode.endIndex });
  const closesFd = op === '>&-' || op === '<&-';
  if (opNode) {
    // The grammar reads `>&-` as one token; a shell reads the operator `>&` and the word `-`.
    const opEnd = closesFd ? opNode.endIndex - 1 : opNode.endIndex;
    b.tokens.push({ kind: 'redirect', op: closesFd ? op.slice(0, -1) : op, start: opNode.startIndex, end: opEnd });
    if (closesFd) b.tokens.push({ kind: 'target', start: opEnd, end: opNode.endIndex });
  }
  const targets = r.namedChildren.filter((c): c is Node => c !== null && c.type !== 'file_descriptor');
  // The grammar hangs the words after a redirection's target on the redirection;
  // a shell passes them to the command as arguments, and so do we.
  for (const extra of targets.slice(closesFd ? 0 : 1)) words.push(word(extra, b));
  if (closesFd) return;
  const target = targets[0] ? word(targets[0], b, 'target') : undefined;
  if (FD_DUP_OPS.has(op) && target?.value !== undefined && /^\d+$/.test(target.value)) return;
  if (OUTPUT_OPS.has(op) && target?.value === '/dev/null') return;
  b.features.add('redirection');
  redirTexts.push(`${fd}${op} ${target?.text ?? ''}`.trim());
}
