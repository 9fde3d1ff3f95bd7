module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'stack-kit',
  rootDir: __dirname,
};
