// Typed lint rules over src/ and test/; warnings fail the build (npm run lint uses --max-warnings=0).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** One layer rule: files matching `files` may not import a specifier matching `regex` (why: `message`). */
function layer(files, regex, message) {
  return { files: [files], rules: { 'no-restricted-imports': ['error', { patterns: [{ regex, message }] }] } };
}

export default tseslint.config(
  { ignores: ['dist/', '.tmp/', 'build/', 'node_modules/', 'data/', 'workspaces/', 'test/fixtures/**', '.ci/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: './tsconfig.test.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      'no-console': 'error',
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's describe/it return promises the runner itself awaits.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] }] },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  // Layers (CONTRIBUTING.md#layers). Imports in src/ are relative, so each rule matches the folder
  // names a specifier reaches through `../`; the rules' files globs do not overlap (a later
  // no-restricted-imports would replace an earlier one, not add to it).
  layer('src/util/**/*.ts', '^(\\.\\./)+(?!util/)', 'src/util/ is the bottom layer: it imports nothing of the project outside src/util/.'),
  layer(
    'src/store/**/*.ts',
    '^(\\.\\./)+(manager|http|cluster)/',
    'src/store/ sits below the manager, the HTTP API and the cluster: it must not import them (shared shapes go down, e.g. src/usage/).',
  ),
  layer(
    'src/metrics/**/*.ts',
    '^(\\.\\./)+(?!(contracts|util|usage)/)',
    'src/metrics/ declares metrics; it takes its label values from src/contracts/ (and src/util/, src/usage/), never from the parts that record into it.',
  ),
  layer('src/contracts/**/*.ts', '^(\\.\\./)+', 'src/contracts/ is a leaf: the vocabulary every layer imports, importing nothing of the project.'),
  layer(
    'src/manager/server/**/*.ts',
    '^(\\.\\./)+per-message/',
    'Server mode and per-message mode are siblings: what both need goes in src/manager/ (e.g. turn.ts) or below.',
  ),
  layer(
    'src/manager/per-message/**/*.ts',
    '^(\\.\\./)+server/',
    'Per-message mode and server mode are siblings: what both need goes in src/manager/ (e.g. turn.ts) or below.',
  ),
  layer(
    'src/opencode-wire/**/*.ts',
    '^((\\.\\./)+(?!(util|usage)/)|(?!\\.|@opencode-ai/sdk(/|$)))',
    'src/opencode-wire/ reads what opencode sends, for both modes: it imports only src/util/, src/usage/ and @opencode-ai/sdk (its types), no other package and nothing of the manager.',
  ),
  layer(
    'src/manager/*.ts',
    '^\\./(server/(shared|isolated)-server-pool|placement/(?!(placement|per-message-placement|choose-placement)\\.js$))',
    'The execution mode is decided once: boot calls choosePlacement(), everything else asks the Placement interface (src/manager/placement/placement.ts), never a concrete pool or placement.',
  ),
  layer(
    '{src/http,src/cluster}/**/*.ts',
    '^(\\.\\./)+manager/(?!index\\.js$)',
    'The HTTP API and the cluster use the manager through its public entry (src/manager/index.ts), never its parts.',
  ),
  layer(
    'src/*.ts',
    '^\\./manager/(?!index\\.js$)',
    'The service and the library use the manager through its public entry (src/manager/index.ts), never its parts.',
  ),
  layer(
    'src/cli/**/*.ts',
    '^(\\.\\./)+(manager|http|store|cluster|gateway)/',
    'The CLI is a client of the HTTP API: it talks to the service over HTTP and imports none of its internals.',
  ),
  {
    // Tests read fields of JSON bodies whose shape is what is under test: `any` is the honest type.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
  {
    // The bin launcher is plain JS outside the TypeScript project (npx runs it before any build).
    files: ['eslint.config.js', 'bin/**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    // The console page's plain browser modules (no build step): syntax and the recommended rules, no types.
    files: ['public/**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'fetch',
          'sessionStorage',
          'localStorage',
          'requestAnimationFrame',
          'setTimeout',
          'clearTimeout',
          'setInterval',
          'AbortController',
          'TextDecoderStream',
          'Intl',
          'Node',
          'URL',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
);
