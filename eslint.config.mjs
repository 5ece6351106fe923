// eslint (typescript-eslint's recommended rules) for the TypeScript and scripts of the repo: `npm run lint`.
// Formatting is prettier's job (.prettierrc, `npm run format:check`), so no stylistic rules here.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'out/', 'node_modules/', '.e2e/', '.fuzz/', '.tmp/', '.cache/', '.demo/', 'test-results/', 'fuzz-crashes/', 'src/native/build/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: {
        console: 'readonly',
        process: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        __dirname: 'readonly',
        require: 'readonly',
        module: 'writable',
      },
    },
    rules: {
      // `_name` marks a parameter kept for an interface's shape (e.g. fsyncRange's advisory range).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Non-null assertions appear where a lookup was checked a line earlier; the type system cannot follow that.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // Tests parse tools' JSON (qemu-img info) loosely, and load a few modules lazily with require().
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
