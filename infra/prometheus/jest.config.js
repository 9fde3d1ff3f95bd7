module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'prometheus',
  rootDir: __dirname,
};
