module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'reservation',
  rootDir: __dirname,
};
