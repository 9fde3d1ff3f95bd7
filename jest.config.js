// Root config: every project that has a jest.config.js takes part in `npm test`.
const fs = require('node:fs');
const path = require('node:path');

const roots = ['apps', 'libs', 'tools', 'infra', 'bench', 'deploy'];
const projects = roots
  .flatMap((root) =>
    fs.existsSync(root) ? fs.readdirSync(root).map((d) => path.join(root, d)) : [],
  )
  // the repository's own scripts: no Nx project, but their decisions have specs
  .concat('scripts')
  .filter((dir) => fs.existsSync(path.join(dir, 'jest.config.js')))
  .map((dir) => `<rootDir>/${dir}`);

module.exports = { projects };
