#!/usr/bin/env node
// Runs a TypeScript entry point of the repo without a build step:
//   node scripts/run.cjs path/to/entry.ts [args...]
// @swc-node/register compiles on the fly with Nest's decorator metadata and
// resolves the @stayline/* aliases from tsconfig.base.json.
const path = require('node:path');

const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(
    `stayline needs Node 22 or newer (24 LTS recommended); this is ${process.version}.\n` +
      'The npm scripts (npm start, npm run ...) provision Node 24 into .tools/ by themselves;\n' +
      'in a shell: `source scripts/use-node24.sh`.',
  );
  process.exit(1);
}

const root = path.resolve(__dirname, '..');
process.env.SWC_NODE_PROJECT ??= path.join(root, 'tsconfig.base.json');
require('@swc-node/register');

const [entry, ...rest] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/run.cjs <entry.ts> [args...]');
  process.exit(2);
}
process.argv = [process.argv[0], path.resolve(entry), ...rest];
require(path.resolve(entry));
