/**
 * Shell lines for the differential fuzzer: deterministic for a (seed, index), built from a weighted
 * vocabulary of fragments. Structure-aware templates reach the known classes of trouble deep
 * enough to get past the parser (a payload behind a comment the grammar sees and the shell does
 * not, inside an array subscript a builtin evaluates, behind a wrapper, in a heredoc…); random
 * token soup finds what nobody thought of.
 *
 * The payload is a file created in the sandbox (`touch PAYLOAD` in many spellings, or a redirection
 * or a snippet of another language that writes one), or a read of the SECRET fixture (by name or
 * by wildcards that match it). The fuzz policies deny every spelling of both, so a line they allow
 * must never create a file nor print the secret.
 */
import { Rng } from '../../src/policy/rng.js';
import { EXPANSIONS, REDIR_OPS, SEPARATORS, SHELL_C, spell, WRAPPERS, type Weighted } from '../../src/policy/shell-vocabulary.js';

export interface GeneratedLine {
  line: string;
  /** The template that built it, to weigh templates by what they find. */
  template: string;
}

/** The file a payload creates; the fuzz policies deny it by name. */
export const MARKER = 'PAYLOAD';

type Gen = (r: Rng) => string;

const oneOf =
  (items: readonly string[]): Gen =>
  (r) =>
    r.pick(items);
const some =
  (items: Weighted<Gen>): Gen =>
  (r) =>
    r.weighted(items)(r);

// ---------------------------------------------------------------- the payload

const MARKER_SPELLINGS: Weighted<string> = [
  [6, MARKER],
  [1, `PAY''LOAD`],
  [1, `PAY\\LOAD`],
  [1, `"PAY"LOAD`],
  [1, `./${MARKER}`],
  [1, `~/${MARKER}`],
  [1, `/tmp/${MARKER}`],
  [0.5, `/dev/shm/${MARKER}`],
  [0.5, `/var/tmp/${MARKER}`],
  [1, 'P'],
  [1, 'x'],
];
const marker: Gen = (r) => r.weighted(MARKER_SPELLINGS);

/** The fixture no line may read: the policies deny it by name, the runner looks for its text. */
export const SECRET = 'SECRET';
/** SECRET as a word: plain, quoted, and as wildcards that match it (bracket classes most of all). */
const SECRET_SPELLINGS: readonly string[] = [
  SECRET,
  `SEC''RET`,
  `"SEC"RET`,
  'SECRE?',
  'S*T',
  'SEC[R]ET',
  'SEC[!x]ET',
  'SEC[^x]ET',
  '[S]ECRET',
  'SE[[:alpha:]]RET',
  'SEC[[:upper:]]ET',
  'SECRE[[:alnum:]]',
  'S[[:alpha:]]CRET',
  'SEC[[=R=]]ET',
  'SEC[[.R.]]ET',
  'SEC[]R]ET',
  'SEC[R-R]ET',
  'SEC[[:alpha:][:digit:]]ET',
  'SEC[[]RET',
  'SE[C]R[E]T',
  `~/${SECRET}`,
  './SEC*',
  '*ECRET',
  'SE*',
];
const secretWord: Gen = oneOf(SECRET_SPELLINGS);
/** A command that prints the SECRET fixture. */
const readPayload: Gen = (r) => `${r.pick(['cat', 'grep .', 'grep -r sshgate', 'grep -h .', 'cat --', 'ls; cat'])} ${secretWord(r)}`;

/** `touch` as a command word: quoted, escaped, by path, by wildcard, by expansion. */
const TOUCH_SPELLINGS: Weighted<string> = [
  [8, 'touch'],
  [2, "t''ouch"],
  [2, '\\touch'],
  [2, '"touch"'],
  [1, "'touch'"],
  [1, 'to\\uch'],
  [1, 't"ou"ch'],
  [2, '/usr/bin/touch'],
  [1, '/bin/touch'],
  [2, '/usr/bin/tou?h'],
  [1, '/usr/bin/t*ch'],
  [1, '/usr/bin/tou[c]h'],
  [2, '/usr/bin/tou[[:alpha:]]h'],
  [1, '/usr/bin/tou[!x]h'],
  [1, '/usr/bin/tou[^x]h'],
  [1, '/usr/bin/tou[[=c=]]h'],
  [1, '/usr/bin/tou[[.c.]]h'],
  [1, '/???/???/touch'],
  [1, '/usr/*/touch'],
  [1, "$'touch'"],
  [1, "$'to\\x75ch'"],
  [1, '$"touch"'],
  [1, '${x:-touch}'],
  [1, '$(echo touch)'],
  [1, '`echo touch`'],
  [1, 't${x}ouch'],
  [1, 't$@ouch'],
  [1, 'command touch'],
];
const touchWord: Gen = (r) => r.weighted(TOUCH_SPELLINGS);

/** Shell code that creates the marker file, as text (to be quoted by the caller). */
const code: Gen = some([
  [8, (r) => `${touchWord(r)} ${MARKER}`],
  [2, () => `cd .;touch ${MARKER}`],
  [1, () => `:;touch ${MARKER}`],
  [1, () => `exec touch ${MARKER}`],
  [1, () => `echo>${MARKER}`],
  [1, () => `>${MARKER}`],
  [1, () => `touch P"AY"LOAD`],
  [1, () => `$(touch ${MARKER})`],
  [1, () => `eval touch ${MARKER}`],
]);

/** Redirections that write the marker: a payload without `touch`. */
const WRITES: readonly string[] = ['>', '>>', '>|', '<>', '1>', '2>', '&>', '&>>', '>&'];
const writeRedirect: Gen = (r) => `${r.pick(WRITES)}${r.pick(['', ' '])}${marker(r)}`;

/** A simple command (or expression) that runs the payload. */
export const payload: Gen = some([
  [10, (r) => `${touchWord(r)} ${marker(r)}`],
  [3, readPayload],
  [2, (r) => `${touchWord(r)} -- ${marker(r)}`],
  [2, (r) => `${r.pick([':', 'echo', 'true', ''])} ${writeRedirect(r)}`.trimStart()],
  [1, (r) => `$(${touchWord(r)} ${marker(r)})`],
  [1, (r) => `\`${touchWord(r)} ${marker(r)}\``],
  [1, (r) => `echo $(${touchWord(r)} ${marker(r)})`],
  [1, (r) => `eval ${spell(r, code(r))}`],
  [1, (r) => `${r.pick(SHELL_C)} ${spell(r, code(r))}`],
  [1, (r) => `${r.pick(SHELL_C)} ${spell(r, `${r.pick(ALLOWED)}${r.pick(['; ', ' && ', ' | ', '\n'])}${touchWord(r)} ${marker(r)}`)}`],
]);

/** An array subscript holding code: arithmetic evaluation runs it. */
const subscript: Gen = (r) => {
  const inner = r.weighted<() => string>([
    [4, () => `$(${code(r)})`],
    [1, () => `\`${code(r)}\``],
    [1, () => `0$(${code(r)})`],
    [1, () => ` $(${code(r)}) `],
    [1, () => `1+$(${code(r)})`],
  ])();
  return `${r.pick(['a', 'x', 'A', '_', 'REPLY', 'OPTARG', 'MAPFILE'])}[${inner}]`;
};
const quotedSubscript: Gen = (r) => spell(r, subscript(r));

// ---------------------------------------------------------------- allowed commands

/** Commands the fuzz policies allow, none of which writes a file. */
const ALLOWED: readonly string[] = [
  'echo a',
  'echo',
  'echo a b',
  'ls',
  'ls -l /',
  'ls /tmp',
  'cat /etc/hostname',
  'cat /dev/null',
  'cat a.txt',
  'grep -c x /etc/hostname',
  'grep root /etc/passwd',
  'uptime',
  'printf %s x',
  'printf x',
  'test -n x',
  'test 1 -eq 1',
  '[ -n x ]',
  'read x',
  'read -r a b',
  'timeout 5 ls',
  'env',
  'env ls',
  'nice ls',
  'nice -n 5 echo a',
  'nohup echo a',
  'sudo -n ls',
  'xargs echo',
  'find /tmp -maxdepth 0',
  'true',
  ':',
  'mapfile x',
  'compgen -A file',
  'hash',
  'let x=1',
];
const allowed: Gen = oneOf(ALLOWED);
/** The first word of an allowed command, to build others with. */
const ALLOWED_NAMES: readonly string[] = [
  'echo',
  'ls',
  'cat',
  'grep',
  'uptime',
  'printf',
  'test',
  '[',
  'read',
  'timeout 5',
  'env',
  'nice',
  'nohup',
  'sudo',
  'xargs',
  'find /tmp',
  'mapfile',
  'readarray',
  'compgen',
  'complete',
  'hash',
  'let',
  'declare',
  'typeset',
  'export',
  'unset',
  'getopts',
  'wait',
  'ulimit',
  'shopt',
  'set',
  'alias',
  'command',
  'builtin',
  'true',
  ':',
];
const allowedName: Gen = oneOf(ALLOWED_NAMES);

const plainArg: Gen = some([
  [6, oneOf(['a', 'b', 'x', '-n', '-e', '-c', '1', '0', '/', '.', 'a.txt', '/etc/hostname', '/dev/null', '--', '-', '{}', '%s'])],
  [2, (r) => spell(r, r.pick(['a b', 'x;y', '#', '$x', "it's", 'a\\b', '*', '?', 'a|b', '(x)']))],
  [1, (r) => `${r.pick(['a', 'x', ''])}#${r.pick(['b', '', ';'])}`],
  [1, oneOf(['*', '?', '[ab]', '[[:alpha:]]', '[!x]', '[^x]', '[[=c=]]', '[[.c.]]', 'a*', '/etc/*', '.*'])],
]);

// ---------------------------------------------------------------- trouble

const separator: Gen = (r) => r.weighted(SEPARATORS);

/** What goes between an allowed command and the next: comments glued to words and operators. */
const GLUES: readonly string[] = [
  '',
  ' #',
  ' #x',
  '#',
  'a#b',
  ' a#b',
  '\\ #',
  '\\ #b',
  '\\\t#',
  '\\\t#b',
  ' \\#',
  ' \\\\#',
  " '#'",
  ' "#"',
  ' $#',
  ' ${#}',
  ' <&-#',
  ' >&-#',
  ' 2>&-#',
  ' <&-',
  ' >&-',
  '<&-#',
  '>&-#',
  ' 0<&-#',
  ' 1>&-#x',
  ' <&0#',
  ' >&1#',
  ' >&2#',
  ' &>/dev/null',
  ' &>>/dev/null',
  ' >&/dev/null',
  '&>/dev/null',
  ' >/dev/null',
  ' 2>/dev/null',
  ' </dev/null',
  ' ==',
  ' =~',
  ' = ',
  ' !=',
  ' == x',
  ' =~ x',
  ' ==\\ ',
  ' ]]',
  ' ))',
  ' \\',
  ' \\\\',
  ' $',
  ' ${x}',
  " $''",
  ' $""',
  " 'a'\\''",
  " \\'",
  ' \\"',
  ' {',
  ' }',
  ' (',
  ' )',
  ' !',
  ' <<<x',
  " <<< 'x'",
  ' <<<',
  ' <(',
  ' >(',
  ' =(',
];
const glue: Gen = oneOf(GLUES);

const redirection: Gen = (r) => {
  const fd = r.weighted<string>([
    [6, ''],
    [2, '1'],
    [2, '2'],
    [1, '0'],
    [1, '3'],
    [0.5, '{fd}'],
  ]);
  const op = r.pick(REDIR_OPS);
  const target = op.endsWith('-') ? r.pick(['', '#', 'x', '#x']) : r.pick(['/dev/null', '1', '2', '-', 'a.txt', MARKER, '&1', '#', '-#']);
  return `${fd}${op}${r.pick(['', ' '])}${target}`;
};

const expansionWithPayload: Gen = (r) => {
  const c = `${touchWord(r)} ${marker(r)}`;
  return r.pick([
    `\${x:-$(${c})}`,
    `\${x-\`${c}\`}`,
    `\${x:=$(${c})}`,
    `\${x/a/$(${c})}`,
    `"\${x:-$(${c})}"`,
    `$((a[$(${c})]))`,
    `$[a[$(${c})]]`,
    `\${a[$(${c})]}`,
    `\${#a[$(${c})]}`,
    `\${x:$(${c})}`,
    `$(${c})`,
    `"$(${c})"`,
    `\`${c}\``,
    `"\`${c}\`"`,
    `<(${c})`,
    `>(${c})`,
  ]);
};

// ---------------------------------------------------------------- templates

/** An allowed command, something glued to it, a separator, the payload. */
const chain: Gen = (r) => {
  const head = r.chance(0.8) ? allowed(r) : `${allowedName(r)} ${plainArg(r)}`;
  const tail = r.chance(0.2) ? `${separator(r)}${allowed(r)}` : '';
  return `${head}${glue(r)}${separator(r)}${payload(r)}${tail}`;
};

/** Builtins that evaluate their arguments (array subscripts, callbacks, command lookups). */
const evaluating: Gen = (r) => {
  const s = () => quotedSubscript(r);
  const c = () => spell(r, code(r));
  const feed = () => r.pick(['echo a | ', 'cat /etc/passwd | ', 'printf "a\\nb\\n" | ', 'ls / | ', '']);
  const forms: (() => string)[] = [
    () => `printf -v ${s()} ${r.pick(['y', '%s x', '%d 1', "''"])}`,
    () => `printf ${r.pick(['%d', '%s', '%(%s)T'])} ${s()}`,
    () => `test -v ${s()}`,
    () => `test ${s()} -eq 1`,
    () => `test 1 -${r.pick(['eq', 'lt', 'ne'])} ${s()}`,
    () => `[ -v ${s()} ]`,
    () => `[ ${s()} -gt 0 ]`,
    () => `[[ -v ${s()} ]]`,
    () => `[[ 1 -eq ${s()} ]]`,
    () => `(( ${s()} ))`,
    () => `${feed()}read ${r.pick(['', '-r ', '-a ', '-d x '])}${s()}`,
    () => `read ${s()} </dev/null`,
    () => `read -t 0 ${s()}`,
    () => `${feed()}${r.pick(['mapfile', 'readarray'])} ${r.pick(['-C', '-t -C'])} ${c()} -c 1${r.pick(['', ' x'])}`,
    () => `${feed()}${r.pick(['mapfile', 'readarray'])} ${s()}`,
    () => `compgen -C ${c()} ${r.pick(['x', '', 'a b'])}`,
    () => `compgen -F ${r.pick(['f', 'x'])} -C ${c()} x`,
    () => `complete -C ${c()} ls; compgen -C ${c()} x`,
    () => `compgen -W ${spell(r, `$(${code(r)})`)} x`,
    () => `compgen -X ${s()} -A file`,
    () =>
      `hash -p /usr/bin/touch ${r.pick(['ls', 'echo', 'cat', 'grep'])}${separator(r)}${r.pick(['ls', 'echo', 'cat', 'grep'])} ${marker(r)}`,
    () => `hash -p ${r.pick(['/usr/bin/touch', '/usr/bin/tou?h', './touch'])} x; x ${marker(r)}`,
    () => `let ${s()}`,
    () => `let ${spell(r, `x=${subscript(r)}`)}`,
    () =>
      `${r.pick(['declare', 'typeset', 'export', 'readonly', 'local'])} ${r.pick(['', '-a ', '-i ', '-n '])}${spell(r, `${subscript(r)}=1`)}`,
    () => `${r.pick(['declare', 'typeset'])} -i x=${s()}`,
    () => `unset ${r.pick(['', '-v '])}${s()}`,
    () => `getopts ${r.pick(['a', 'ab:'])} ${s()}${r.pick(['', ' -a', ' -b x'])}`,
    () => `wait -p ${s()}`,
    () => `wait -n -p ${s()}`,
    () => `ulimit -${r.pick(['n', 't', 'f'])} ${s()}`,
    () => `shift ${s()}`,
    () =>
      `${r.pick(['shopt -s expand_aliases', 'set -o posix', ':'])}${separator(r)}alias ${r.pick(['ls', 'echo', 'cat'])}=${spell(r, `touch ${MARKER}`)}${r.pick(['\n', ';', ' && '])}${r.pick(['ls', 'echo', 'cat'])}`,
    () => `alias ${r.pick(['ls', 'echo'])}=touch\n${r.pick(['ls', 'echo'])} ${marker(r)}`,
    () => `trap ${c()} ${r.pick(['EXIT', 'ERR', 'DEBUG', '0', 'RETURN'])}`,
    () =>
      `${r.pick(['command', 'builtin', 'command -p'])} ${r.pick(['eval', 'source', '.', 'exec', 'trap', 'alias', 'printf -v', 'command'])} ${c()}`,
    () => `set -- ${s()}; ${r.pick(['shift $1', 'echo $(( $1 ))', 'test -v $1'])}`,
    () =>
      `${r.pick(['printf', 'echo'])} ${s()} ${r.pick(['|', '; ', '&&'])} ${r.pick(['xargs', 'xargs -0', 'xargs -I{}'])} ${r.pick(['printf -v', 'test -v', 'let', 'unset'])}`,
    () => `source /dev/stdin <<< ${c()}`,
    () => `. /dev/stdin <<<${c()}`,
    () => `eval ${c()}`,
    () => `exec ${touchWord(r)} ${marker(r)}`,
  ];
  const body = r.pick(forms)();
  return r.chance(0.25) ? `${allowed(r)}${separator(r)}${body}` : body;
};

const inner: Gen = some([
  [4, (r) => `${r.pick(SHELL_C)} ${spell(r, code(r))}`],
  [4, (r) => `${touchWord(r)} ${marker(r)}`],
  [1, (r) => `python3 -c ${spell(r, r.pick([`open("PAY"+"LOAD","w")`, `import os;os.system("touch P")`, `open('x','w')`]))}`],
  [1, (r) => `perl -e ${spell(r, r.pick([`open(F,">PAY"."LOAD")`, `system("touch P")`, 'open(F,">x")']))}`],
  [2, (r) => `awk ${spell(r, r.pick([`BEGIN{system("touch P")}`, `BEGIN{printf "" > "x"}`, `BEGIN{system("touch PAY" "LOAD")}`]))}`],
  [1, (r) => `${r.pick(['eval', 'source /dev/stdin <<<', 'xargs', 'find /tmp -exec'])} ${spell(r, code(r))}`],
  [1, (r) => `${r.pick(WRAPPERS)} ${touchWord(r)} ${marker(r)}`],
]);
const wrapped: Gen = some([
  [6, (r) => `${r.pick(WRAPPERS)} ${inner(r)}`],
  [2, (r) => `${r.pick(['echo x', `echo ${MARKER}`, 'ls /', 'printf "x\\n"'])} | xargs ${r.pick(['', '-I{} ', '-n1 ', '-0 '])}${inner(r)}`],
  [
    2,
    (r) =>
      `find /tmp ${r.pick(['', '-maxdepth 0 '])}${r.pick(['-exec', '-execdir', '-ok'])} ${inner(r)} ${r.pick(['\\;', "';'", '";"', '{} +', '{} \\;'])}`,
  ],
  [1, (r) => `${r.pick(WRAPPERS)} ${r.pick(WRAPPERS)} ${inner(r)}`],
]);

/** A heredoc or here-string, with plain, quoted and odd delimiters, bodies that end early or late. */
const heredoc: Gen = (r) => {
  const delim = r.pick(['EOF', 'E', 'x', '_', 'EOF1', 'E-F', 'E O F', 'EOF;', '#', '\\', '!', '$x', 'E\\OF']);
  const spelled = r.weighted<string>([
    [4, delim],
    [2, `'${delim}'`],
    [1, `"${delim}"`],
    [1, `\\${delim}`],
    [1, `${delim.slice(0, 1)}''${delim.slice(1)}`],
  ]);
  const op = r.pick(['<<', '<<-', '<< ', '<<- ']);
  const head = `${r.pick(['cat', 'cat -', 'grep x', 'read x', 'mapfile x', 'xargs echo'])} ${op}${spelled}`;
  const after = r.chance(0.4) ? r.pick([` ${separator(r)}${payload(r)}`, glue(r), ` ${redirection(r)}`, ` <<${delim}`]) : '';
  const bodyLine = (): string =>
    r.weighted<string>([
      [4, r.pick(['a', 'hello', '', 'x y'])],
      [2, payload(r)],
      [1, `${delim} `],
      [1, ` ${delim}`],
      [1, `\t${delim}`],
      [1, `${delim}\\`],
      [1, `'${delim}'`],
      [1, `$(${code(r)})`],
      [1, `\`${code(r)}\``],
      [1, `${delim}#`],
      [1, `${delim};${payload(r)}`],
    ]);
  const lines = Array.from({ length: r.int(3) }, bodyLine);
  const end = r.weighted<string>([
    [8, delim],
    [1, `\t${delim}`],
    [1, `${delim} `],
    [1, ''],
  ]);
  const rest = r.chance(0.7) ? `\n${payload(r)}` : '';
  return `${head}${after}\n${lines.map((l) => `${l}\n`).join('')}${end}${rest}`;
};

/** An allowed command with redirections and words after them. */
const redirected: Gen = (r) => {
  const parts = [allowed(r)];
  for (let i = 0, n = 1 + r.int(3); i < n; i++) parts.push(r.chance(0.6) ? redirection(r) : plainArg(r));
  if (r.chance(0.6)) parts.push(r.chance(0.5) ? payload(r) : `${touchWord(r)} ${marker(r)}`);
  return parts.join(r.pick([' ', ' ', '']));
};

/** `==`, `=~`, `[[`, `((` outside and inside test expressions, across lines. */
const testOps: Gen = (r) => {
  const op = r.pick(['==', '=~', '=', '!=', '-eq', '<', '>', '&&', '||']);
  return r.pick([
    () => `${allowed(r)} ${op}${r.pick(['\n', ' \n', '\\\n', ''])}${payload(r)}`,
    () => `${allowedName(r)} a ${op} ${r.pick(['b', '\\', "'", '('])}\n${payload(r)}`,
    () => `[[ a ${op} b ]]${separator(r)}${payload(r)}`,
    () => `[[ a ${op} ${r.pick(['(', '|', '<'])} ]]${separator(r)}${payload(r)}`,
    () => `test a ${op} b${separator(r)}${payload(r)}`,
    () => `echo a ${op}${separator(r)}${payload(r)}`,
    () => `(( x ${op} 1 ))${separator(r)}${payload(r)}`,
    () => `[[ $(${code(r)}) ]]`,
    () => `[[ -v ${quotedSubscript(r)} ]]`,
    () => `echo [[ a ${op} b ]]${separator(r)}${payload(r)}`,
  ])();
};

const expansions: Gen = (r) =>
  r.pick([
    () => `echo ${expansionWithPayload(r)}`,
    () => `${allowedName(r)} ${r.pick(EXPANSIONS)}${separator(r)}${payload(r)}`,
    () => `echo ${r.pick(EXPANSIONS)}${glue(r)}${separator(r)}${payload(r)}`,
    () =>
      `${r.pick(['x=', 'IFS=', 'PATH=', 'x=1 ', 'LC_ALL=C '])}${r.chance(0.5) ? expansionWithPayload(r) : spell(r, code(r))} ${allowed(r)}`,
    () => `${allowedName(r)} ${expansionWithPayload(r)}`,
  ])();

/** Quote characters in the places a lexer is most likely to get them wrong. */
const quoting: Gen = (r) =>
  r.pick([
    () => `echo $'a\\' ;${payload(r)}; echo '`,
    () => `echo $'\\'';${payload(r)};'`,
    () => `echo \\'${separator(r)}${payload(r)}${separator(r)}echo \\'`,
    () => `echo "a\\"${separator(r)}${payload(r)}${separator(r)}echo \\""`,
    () => `echo 'a'\\''${separator(r)}${payload(r)}${separator(r)}'`,
    () => `echo $"a\\"${separator(r)}${payload(r)}${separator(r)}"`,
    () => `echo "$(echo ')')"${separator(r)}${payload(r)}`,
    () => `echo "\`echo '\`'\`"${separator(r)}${payload(r)}`,
    () => `echo \`echo \\\`${payload(r)}\\\`\``,
    () => `echo "\${x:-'}"${separator(r)}${payload(r)}${separator(r)}echo "'"`,
    () => `echo \${x:-'}'}${separator(r)}${payload(r)}`,
    () => `echo ${spell(r, `${separator(r)}${payload(r)}`)}`,
    () => `echo ${r.pick(["$'", '$"', "'", '"', '\\'])}${separator(r)}${payload(r)}`,
  ])();

/** A read of the SECRET fixture, alone or after an allowed command. */
const reading: Gen = (r) => (r.chance(0.5) ? readPayload(r) : `${allowed(r)}${glue(r)}${separator(r)}${readPayload(r)}`);

/** Groups, subshells, control structures and function definitions around the payload. */
const compound: Gen = (r) => {
  const p = payload(r);
  return r.pick([
    `( ${p} )`,
    `{ ${p}; }`,
    `${allowed(r)} && { ${p}; }`,
    `if true; then ${p}; fi`,
    `case x in x) ${p};; esac`,
    `for i in 1; do ${p}; done`,
    `while false; do :; done; ${p}`,
    `f() { ${p}; }; f`,
    `function f { ${p}; }; f`,
    `! ${p}`,
    `time ${p}`,
    `coproc ${p}`,
    `echo $(${allowed(r)}; ${p})`,
    `echo \`${allowed(r)}; ${p}\``,
    `echo <(${p})`,
    `${allowed(r)} > >(${p})`,
    `echo $( (${p}) )`,
    `{ ${allowed(r)}; } ${glue(r)}${separator(r)}${p}`,
  ]);
};

/** Any fragment of the above, to make soup of. */
const FRAGMENTS: Weighted<Gen> = [
  [10, allowedName],
  [6, plainArg],
  [4, separator],
  [4, glue],
  [3, redirection],
  [3, payload],
  [2, touchWord],
  [2, marker],
  [1, secretWord],
  [2, oneOf(EXPANSIONS)],
  [1, expansionWithPayload],
  [1, quotedSubscript],
  [1, oneOf(['{', '}', '(', ')', '!', '[[', ']]', '((', '))', '==', '=~', 'then', 'fi', 'do', 'done', 'esac', 'in'])],
  [1, oneOf(["'", '"', '\\', '$', '`', "$'", '$"', '#', '&', '|', ';', '<', '>', '\t', '\n', '\\\n', '\\ ', '\\\t'])],
];

/** Random token soup, mostly starting with an allowed command. */
const soup: Gen = (r) => {
  const parts: string[] = [r.chance(0.8) ? allowedName(r) : r.weighted(FRAGMENTS)(r)];
  for (let i = 0, n = 1 + r.int(8); i < n; i++) {
    parts.push(
      r.weighted<string>([
        [6, ' '],
        [3, ''],
        [1, '\t'],
        [1, '\n'],
      ]),
    );
    parts.push(r.weighted(FRAGMENTS)(r));
  }
  if (r.chance(0.5)) parts.push(r.pick([' ', ';', '\n', '']), payload(r));
  return parts.join('');
};

export const TEMPLATES: Weighted<readonly [string, Gen]> = [
  [14, ['chain', chain]],
  [12, ['evaluating', evaluating]],
  [6, ['wrapped', wrapped]],
  [6, ['heredoc', heredoc]],
  [6, ['redirected', redirected]],
  [5, ['test-ops', testOps]],
  [5, ['expansions', expansions]],
  [5, ['quoting', quoting]],
  [3, ['compound', compound]],
  [4, ['reading', reading]],
  [24, ['soup', soup]],
];

export function generateLine(seed: number, index: number): GeneratedLine {
  const r = new Rng(seed, index);
  const [template, gen] = r.weighted(TEMPLATES);
  return { line: gen(r), template };
}
