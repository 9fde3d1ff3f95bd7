// Unit specs of the compose driver run in `npm test`; the `*.compose-spec.ts`
// suites need the compose stack and run only from `npm run test:compose`
// (src/cli.ts), one file at a time in the order of their names; the
// `*.partition-spec.ts` suites likewise from `npm run test:partitions`.
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'compose',
  rootDir: __dirname,
  testMatch: ['**/*.spec.ts', '**/*.compose-spec.ts', '**/*.partition-spec.ts'],
};
