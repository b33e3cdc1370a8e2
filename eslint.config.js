// @ts-check
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

/** Imports that would make workflow code non-deterministic or pull I/O into the workflow sandbox. */
const workflowForbidden = [
  ...builtinModules,
  ...builtinModules.map((m) => `node:${m}`),
  'axios',
  'pino',
  'pg',
  'better-sqlite3',
  'fastify',
];

/** Layers of product code under src/, each a folder. */
const layers = [
  'domain',
  'workflows',
  'activities',
  'integrations',
  'gateway',
  'storage',
  'workers',
  'starters',
  'platform',
];
/** src/ layers other than the given ones, as `from` paths. */
const srcExcept = (...allowed) => layers.filter((l) => !allowed.includes(l)).map((l) => `./src/${l}`);

/**
 * The layer rules of docs/architecture.md, checked on every import (type-only ones too): a zone forbids its
 * `target` files to import anything under `from`.
 */
const layerZones = [
  {
    target: './src/domain',
    from: [...srcExcept('domain'), './sandbox', './tools'],
    message: 'Domain imports nothing of ours.',
  },
  {
    target: './src/workflows',
    from: [
      './src/integrations',
      './src/storage',
      './src/platform',
      './src/gateway',
      './src/workers',
      './src/starters',
    ],
    message: 'Workflows import domain, their contracts and activity types only.',
  },
  {
    target: './src/activities',
    from: ['./src/gateway', './src/storage', './src/workers', './src/starters'],
    message: 'Activities import integrations, domain, workflow contracts and platform only.',
  },
  {
    target: './src/integrations',
    from: [
      './src/activities',
      './src/workflows',
      './src/gateway',
      './src/storage',
      './src/workers',
      './src/starters',
    ],
    message: 'Integrations import domain and platform only.',
  },
  {
    target: './src/storage',
    from: srcExcept('storage', 'platform', 'domain'),
    message: 'Storage imports domain and platform only.',
  },
  {
    target: './src/gateway',
    from: ['./src/activities', './src/workers', './src/starters'],
    message: 'The gateway imports storage, workflow contracts, integrations, domain and platform only.',
  },
  {
    target: './src/platform',
    from: [
      './src/activities',
      './src/integrations',
      './src/gateway',
      './src/storage',
      './src/workers',
      './src/starters',
    ],
    message: 'Platform imports domain and workflow contracts only.',
  },
  {
    target: './src/workers',
    from: ['./src/gateway', './src/starters'],
    message: 'Workers import workflows, activities, integrations, storage (dead letters) and platform only.',
  },
  {
    target: './src',
    from: ['./sandbox', './tools'],
    message: 'Product code never imports the sandboxes or the dev tools.',
  },
  {
    target: './sandbox',
    from: [...srcExcept('domain', 'platform'), './tools'],
    message: 'The sandboxes import only domain and platform.',
  },
  {
    target: ['./src/!(starters)/**', './sandbox', './tools'],
    from: './src/starters',
    message: 'Nothing imports the CLI: shared wiring lives in platform or a workflow contract.',
  },
];

/**
 * What workflow code may import. Deterministic code only; activities as types. And, outside the contracts,
 * neither zod, luxon nor a module that evaluates them except as types: every cached run evaluates the
 * modules it imports for itself, so the workflows reach them through `src/workflows/lazy.ts` when they need
 * them (docs/architecture.md, "What a cached workflow costs").
 */
function workflowImports({ schemas }) {
  return [
    'error',
    {
      paths: workflowForbidden.map((name) => ({
        name,
        message: 'Workflow code must stay deterministic: no Node built-ins or I/O libraries.',
      })),
      patterns: [
        {
          group: ['**/activities', '**/activities/**'],
          allowTypeImports: true,
          message: 'Import activities with `import type` and call them through proxyActivities.',
        },
        ...(schemas
          ? []
          : [
              {
                group: [
                  'zod',
                  'zod/**',
                  '**/contract.js',
                  '**/domain/model.js',
                  '**/domain/clock.js',
                  '**/domain/events.js',
                  '**/domain/json-schemas.js',
                  '**/domain/reconciliation.js',
                  'luxon',
                  '**/domain/local-time.js',
                  '**/domain/service-days.js',
                ],
                allowTypeImports: true,
                message:
                  'A cached workflow run evaluates each module it imports: take schemas and luxon as types, or through src/workflows/lazy.ts.',
              },
            ]),
      ],
    },
  ];
}

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'docs/**', '.shipsync/**', 'test/lint-fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['src/**/*.ts', 'sandbox/**/*.ts', 'tools/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensionAlias: { '.js': ['.ts', '.js'] } })],
    },
    rules: { 'import-x/no-restricted-paths': ['error', { zones: layerZones }] },
  },
  {
    files: ['src/workflows/**/*.ts', 'tools/bench/workflows/*.ts'],
    ignores: ['**/contract.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': workflowImports({ schemas: false }) },
  },
  {
    files: ['src/workflows/**/contract.ts', 'tools/bench/workflows/contract.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': workflowImports({ schemas: true }) },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The ops console runs in the browser as a classic script, without a build step.
    files: ['console/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'location',
          'history',
          'sessionStorage',
          'fetch',
          'crypto',
          'Node',
          'setTimeout',
          'clearTimeout',
          'console',
          'AbortController',
          'performance',
        ].map((g) => [g, 'readonly']),
      ),
    },
  },
);
