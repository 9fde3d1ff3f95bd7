module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'scrap',
  rootDir: __dirname,
};
