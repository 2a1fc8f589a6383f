// Type-aware lint over every TypeScript folder. The promise rules and the exhaustive switch matter most
// in streaming code: a dropped promise or an unhandled case there loses a client's answer silently.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'data/**'] },
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'emulator/**/*.ts', 'bench/**/*.ts', 'migrations/**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      // Off: raw SQL rows and parsed JSON bodies are `any` by nature (ds.query, res.json()); typing each
      // access would add casts, not safety. An async function without await is harmless here.
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/require-await': 'off',
      // `const { omitted, ...rest } = x` is how a key is left out of a copy.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
      // Passing on what was caught (an upstream's error, a rejection of unknown type) is not inventing a non-Error.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // A variable a closure reads before its single assignment (a subscription torn down by an earlier event).
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
);
