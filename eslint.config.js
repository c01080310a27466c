// Typed lint rules over src/ and test/; warnings fail the build (npm run lint uses --max-warnings=0).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
