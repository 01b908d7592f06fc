import js from '@eslint/js';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

// The layers of src/ (docs/architecture-layers.md): for each folder, the folders it may import.
// The files directly in src/ (errors.ts, defaults.ts, glob.ts, …) are leaves: any file may import
// them, and they import no folder. cli.ts, the entry point, is imported by nothing.
const LAYERS = {
  commands: ['mcp', 'auth', 'gateway', 'audit', 'policy', 'tasks', 'ssh', 'config', 'demo'],
  mcp: ['gateway', 'auth'],
  // Who an HTTP caller is: the tokens file and OAuth access tokens; knows neither MCP nor hosts.
  auth: ['config'],
  gateway: ['audit', 'policy', 'tasks', 'ssh', 'config'],
  // The audit records policy decisions and task ends, and so reads those two layers' types.
  audit: ['policy', 'tasks', 'config'],
  policy: ['config'],
  tasks: ['config'],
  ssh: ['config'],
  config: [],
  demo: [],
};
// Packages that only some folders may import.
const PACKAGES = [
  { name: '@modelcontextprotocol', folders: ['mcp', 'commands'], why: 'nothing below src/mcp knows MCP' },
  { name: 'ssh2', folders: ['ssh', 'demo'], why: 'the rest reaches hosts through src/ssh' },
];

const FOLDERS = Object.keys(LAYERS);
// A '/' written as \x2F: the same source serves no-restricted-imports and an esquery selector,
// and esquery ends a regex at any '/'.
const S = '\\x2F';
const exactly = (name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\//g, S);

/** The rules for the files of one folder of src/, or with no folder, for the leaves. */
function restrictions(folder) {
  const may = folder === undefined ? [] : LAYERS[folder];
  const up = folder === undefined ? `\\.${S}` : `(\\.\\.${S})+`;
  const banned = FOLDERS.filter((f) => f !== folder && !may.includes(f));
  const where = folder === undefined ? 'a file directly in src/' : `src/${folder}`;
  const allowed = may.length > 0 ? `src/{${may.join(',')}} and the files directly in src/` : 'only the files directly in src/';
  const rules = [{ regex: `^${up}cli\\.js$`, message: 'cli.ts is the entry point: nothing imports it.' }];
  if (banned.length > 0) {
    rules.push({
      regex: `^${up}(${banned.join('|')})${S}`,
      message: `${where} may import ${allowed}: the layers are in eslint.config.js.`,
    });
  }
  for (const p of PACKAGES.filter((p) => !p.folders.includes(folder))) {
    rules.push({ regex: `^${exactly(p.name)}(${S}|$)`, message: `only src/{${p.folders.join(',')}} import ${p.name}: ${p.why}.` });
  }
  return {
    'no-restricted-imports': ['error', { patterns: rules.map((r) => ({ ...r, caseSensitive: true })) }],
    // no-restricted-imports does not look at import(): the same rules for it.
    'no-restricted-syntax': [
      'error',
      ...rules.map((r) => ({ selector: `ImportExpression[source.value=/${r.regex}/]`, message: r.message })),
    ],
  };
}

export default tseslint.config(
  { ignores: ['dist/', 'dist-bench/', 'dist-fuzz/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  // Typed rules on src/: a floating promise, a deprecated API or an unsafe any is an error.
  ...tseslint.configs.recommendedTypeChecked.map((config) => ({ ...config, files: ['src/**/*.ts'] })),
  {
    files: ['src/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: { '@typescript-eslint/no-deprecated': 'error' },
  },
  {
    // stdout is the MCP channel: nothing in src/ may write to it by accident.
    files: ['src/**/*.ts'],
    rules: { 'no-console': 'error' },
  },
  ...FOLDERS.map((folder) => ({ files: [`src/${folder}/**/*.ts`], rules: restrictions(folder) })),
  { files: ['src/*.ts'], ignores: ['src/cli.ts'], rules: restrictions(undefined) },
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
