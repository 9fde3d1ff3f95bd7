module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'fault-kit',
  rootDir: __dirname,
};
