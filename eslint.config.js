import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test/artifacts/**', '**/testdata/**', 'clients/python/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', fetch: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', AbortSignal: 'readonly', AbortController: 'readonly', TextDecoder: 'readonly', performance: 'readonly', URLSearchParams: 'readonly', Response: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-console': ['error', { allow: ['error', 'warn'] }],
    },
  },
  { files: ['cli/**', 'bench/**', 'test/**', 'dashboards/**'], rules: { 'no-console': 'off' } },
  {
    files: ['api/page/**/*.js'],
    // the page's own ES modules, served as they are (no build step)
    languageOptions: {
      sourceType: 'module',
      globals: { window: 'readonly', document: 'readonly', EventSource: 'readonly', fetch: 'readonly', URLSearchParams: 'readonly', Option: 'readonly', setInterval: 'readonly', uPlot: 'readonly', ResizeObserver: 'readonly', requestAnimationFrame: 'readonly', cancelAnimationFrame: 'readonly', CSS: 'readonly' },
    },
  },
);
