import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import js from '@eslint/js';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

// The layers of src/ (docs/architecture-layers.md): for each folder, the folders it may import.
// The files directly in src/ (errors.ts, defaults.ts, glob.ts, …) are leaves: any file may import
// them, and they import no folder. cli.ts and snapshot.ts, the entry points (the second for the
// Docker image's startup snapshot), are imported by nothing.
const LAYERS = {
  commands: ['mcp', 'auth', 'gateway', 'approvals', 'audit', 'policy', 'tasks', 'ssh', 'config', 'demo', 'import'],
  mcp: ['gateway', 'auth'],
  // Who an HTTP caller is: the tokens file and OAuth access tokens; knows neither MCP nor hosts.
  auth: ['config'],
  gateway: ['approvals', 'audit', 'policy', 'tasks', 'ssh', 'config'],
  // The audit records policy decisions, approvals and task ends, and so reads those layers' types.
  audit: ['approvals', 'policy', 'tasks', 'config'],
  // Approval requests hold tasks until a person answers; the control socket carries operators' answers.
  approvals: ['policy', 'tasks', 'config'],
  policy: ['config'],
  tasks: ['config'],
  ssh: ['config'],
  config: [],
  demo: [],
  // ssh_config and Ansible inventories read into drafts, checked against config/'s schemas.
  import: ['config'],
};
// Packages that only some folders may import ('@scope/*': every package of the scope).
const PACKAGES = [
  { name: '@modelcontextprotocol/*', folders: ['mcp', 'commands'], why: 'nothing below src/mcp knows MCP' },
  { name: 'ssh2', folders: ['ssh', 'demo'], why: 'the rest reaches hosts through src/ssh' },
];

/** The package a bare specifier names: 'ssh2/lib/x' → 'ssh2', '@scope/name/x' → '@scope/name'. */
const packageOf = (spec) => spec.split('/', spec.startsWith('@') ? 2 : 1).join('/');
const names = (name, pkg) => (name.endsWith('/*') ? pkg.startsWith(name.slice(0, -1)) : pkg === name);

/**
 * What is wrong with `file` (its path below src/, split into names) importing `spec`, or undefined.
 * `target`: for a relative specifier, the path below src/ it resolves to (split), or null when it
 * leads out of src/. It is judged by where it lands, not by how it is spelt: a detour such as
 * '../config/../gateway/x.js' or '../../src/gateway/x.js' is an import of src/gateway.
 */
function layerViolation(file, spec, target) {
  const folder = file.length > 1 ? file[0] : undefined;
  const where = folder === undefined ? 'a file directly in src/' : `src/${folder}`;
  if (folder !== undefined && !(folder in LAYERS)) {
    return `src/${folder} has no row in LAYERS (eslint.config.js): give it one, and docs/architecture-layers.md a line.`;
  }
  if (target === undefined) {
    const pkg = packageOf(spec);
    const rule = PACKAGES.find((p) => names(p.name, pkg) && !p.folders.includes(folder));
    return rule && `only src/{${rule.folders.join(',')}} import ${rule.name}: ${rule.why}.`;
  }
  if (target === null) return `${spec} leads out of src/.`;
  if (target.length === 1)
    return /^(cli|snapshot)(\.[jt]s)?$/.test(target[0]) ? `${target[0]} is an entry point: nothing imports it.` : undefined;
  const to = target[0];
  const may = folder === undefined ? [] : LAYERS[folder];
  if (to === folder || may.includes(to)) return undefined;
  const allowed = may.length > 0 ? `src/{${may.join(',')}} and the files directly in src/` : 'only the files directly in src/';
  return `${where} may import ${allowed}: ${spec} is in src/${to}. The layers are in eslint.config.js.`;
}

/**
 * The rule behind LAYERS and PACKAGES. It sees every way a module names another: import and
 * export … from, import(), `typeof import('…')` in a type, `import x = require('…')` and require().
 * An import() whose specifier is computed cannot be judged, and is refused.
 */
const layers = {
  meta: { type: 'problem', schema: [] },
  create(context) {
    // src/ is the nearest folder of that name above the file: the repository's, or a fixture's.
    const parts = context.physicalFilename.split(sep);
    const src = parts.lastIndexOf('src');
    if (src < 0) return {};
    const srcDir = parts.slice(0, src + 1).join(sep);
    const file = parts.slice(src + 1);
    const check = (node) => {
      const spec = node.type === 'TemplateLiteral' ? node.quasis[0].value.cooked : node.value;
      let target;
      if (spec.startsWith('.') || isAbsolute(spec)) {
        const below = relative(srcDir, resolve(dirname(context.physicalFilename), spec));
        target = below === '..' || below.startsWith(`..${sep}`) || isAbsolute(below) ? null : below.split(sep);
      }
      const message = layerViolation(file, spec, target);
      if (message !== undefined) context.report({ node, message });
    };
    const literal = (node) =>
      (node.type === 'Literal' && typeof node.value === 'string') || (node.type === 'TemplateLiteral' && node.expressions.length === 0);
    const computed = (node) => context.report({ node, message: 'a computed module specifier: the layer rules cannot see where it leads.' });
    return {
      ImportDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => node.source && check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ImportExpression: (node) => (literal(node.source) ? check(node.source) : computed(node.source)),
      TSImportType: (node) => check(node.source ?? node.argument.literal),
      TSImportEqualsDeclaration: (node) =>
        node.moduleReference.type === 'TSExternalModuleReference' && check(node.moduleReference.expression),
      CallExpression: (node) => {
        if (node.callee.type !== 'Identifier' || node.callee.name !== 'require' || node.arguments.length !== 1) return;
        if (literal(node.arguments[0])) check(node.arguments[0]);
        else computed(node.arguments[0]);
      },
    };
  },
};

const TYPED = ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'];

export default tseslint.config(
  // The lint fixtures break the rules on purpose; test/unit/lint lints each as a tree of its own.
  { ignores: ['.cache/', 'dist/', 'build/', 'dist-bench/', 'dist-fuzz/', 'node_modules/', 'coverage/', 'test/unit/lint/fixtures/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  // Typed rules on src/, test/ and bench/: a floating promise, a deprecated API or an unsafe any is
  // an error (tsconfig.json holds all three; bench/ and test/fuzz/ have their own for building).
  ...tseslint.configs.recommendedTypeChecked.map((config) => ({ ...config, files: TYPED })),
  {
    files: TYPED,
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: { '@typescript-eslint/no-deprecated': 'error' },
  },
  {
    // An unsafe any in a test is mostly vitest's own: expect.any() and expect.stringContaining()
    // are typed any, and so is the JSON a test parses to look at.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
  {
    // stdout is the MCP channel: nothing in src/ may write to it by accident.
    files: ['src/**/*.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    // cli.ts and snapshot.ts, the entry points, may import any of them.
    files: ['src/**/*.ts'],
    ignores: ['src/cli.ts', 'src/snapshot.ts'],
    plugins: { layers: { rules: { imports: layers } } },
    rules: { 'layers/imports': 'error' },
  },
  {
    // No import cycles in src/ (type-only imports aside: they are gone at run time).
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createNodeResolver({ extensionAlias: { '.js': ['.ts', '.js'] } })],
    },
    rules: { 'import-x/no-cycle': 'error' },
  },
);
