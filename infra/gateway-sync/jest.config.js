module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'gateway-sync',
  rootDir: __dirname,
};
