import nx from '@nx/eslint-plugin';

// Which kind of project may depend on which: imports point down.
//   contract   wire shapes and the gateway's route table; depend on nothing
//   lib        the libraries; libraries and contracts
//   app        the services; libraries and contracts, never another app
//   test-kit   tools/stack-kit: datastores and services as processes; contracts only
//   fault-kit  tools/fault-kit: loads, write streams, failover rounds; libraries and the stack kit
//   gateway    the production gateway sync; libraries and contracts, no kit, no launcher
//   infra      launcher, demos, compose suite: anything below them
// Tests (specs and a project's own src/testing/ helpers) may add the kits, never infra.
const depConstraints = [
  { sourceTag: 'type:contract', onlyDependOnLibsWithTags: ['type:contract'] },
  { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib', 'type:contract'] },
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib', 'type:contract'] },
  { sourceTag: 'type:test-kit', onlyDependOnLibsWithTags: ['type:contract'] },
  {
    sourceTag: 'type:fault-kit',
    onlyDependOnLibsWithTags: ['type:lib', 'type:contract', 'type:test-kit'],
  },
  { sourceTag: 'type:gateway', onlyDependOnLibsWithTags: ['type:lib', 'type:contract'] },
  {
    sourceTag: 'type:infra',
    onlyDependOnLibsWithTags: [
      'type:lib',
      'type:contract',
      'type:infra',
      'type:test-kit',
      'type:fault-kit',
    ],
  },
  {
    sourceTag: 'type:bench',
    onlyDependOnLibsWithTags: [
      'type:lib',
      'type:contract',
      'type:infra',
      'type:test-kit',
      'type:fault-kit',
    ],
  },
  { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
];
// libraries' tests may start a stack (stack kit); the apps' fault tests may also drive one (fault kit)
const TEST_KITS = {
  'type:lib': ['type:test-kit'],
  'type:app': ['type:test-kit', 'type:fault-kit'],
};
const testDepConstraints = depConstraints.map((c) =>
  TEST_KITS[c.sourceTag]
    ? { ...c, onlyDependOnLibsWithTags: [...c.onlyDependOnLibsWithTags, ...TEST_KITS[c.sourceTag]] }
    : c,
);
const TEST_FILES = ['**/*.spec.ts', '**/*.e2e-spec.ts', '**/src/testing/**/*.ts'];

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  ...nx.configs['flat/javascript'],
  {
    ignores: ['**/dist', '**/node_modules', '**/.stack', '**/.tools', '**/coverage', '.nx/**'],
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        { enforceBuildableLibDependency: true, allow: [], depConstraints },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
    },
  },
  {
    // production code never reaches a project's test helpers
    files: ['**/*.ts'],
    ignores: TEST_FILES,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/testing', '**/testing/**'], message: 'test helpers are for tests' },
          ],
        },
      ],
    },
  },
  {
    files: TEST_FILES,
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        { enforceBuildableLibDependency: true, allow: [], depConstraints: testDepConstraints },
      ],
    },
  },
  {
    files: ['**/*.cjs', '**/*.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
];
