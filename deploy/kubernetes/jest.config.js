module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'kubernetes',
  rootDir: __dirname,
};
