module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'failover-agent',
  rootDir: __dirname,
};
