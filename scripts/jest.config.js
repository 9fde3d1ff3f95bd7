// The repository's own scripts (the bootstrap's decisions): not an Nx project, tested like one.
module.exports = {
  ...require('../jest.preset.js'),
  displayName: 'scripts',
  rootDir: __dirname,
  moduleFileExtensions: ['ts', 'js', 'cjs', 'json'],
};
