#!/usr/bin/env node
// `npm run build`: compiles every app, library and the launcher to plain
// JavaScript under dist/ (same layout as the sources), with the @stayline/*
// aliases rewritten to relative paths, so containers run `node dist/...`
// without a compiler. Specs are left out.
const fs = require('node:fs');
const path = require('node:path');
const swc = require('@swc/core');

const root = path.resolve(__dirname, '..');
const out = path.resolve(process.argv[2] ?? path.join(root, 'dist'));
const { compilerOptions } = require(path.join(root, 'tsconfig.base.json'));

const options = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
    baseUrl: root,
    paths: compilerOptions.paths,
  },
  module: { type: 'commonjs' },
  sourceMaps: true,
};

function sources(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sources(p);
    return /\.ts$/.test(e.name) &&
      !/\.(spec|e2e-spec)\.ts$/.test(e.name) &&
      !e.name.endsWith('.d.ts')
      ? [p]
      : [];
  });
}

const files = ['apps', 'libs', 'tools', 'infra']
  .filter((top) => fs.existsSync(path.join(root, top)))
  .flatMap((top) => fs.readdirSync(path.join(root, top)).map((d) => path.join(root, top, d, 'src')))
  .flatMap(sources);
let n = 0;
for (const file of files) {
  const rel = path.relative(root, file).replace(/\.ts$/, '.js');
  const dest = path.join(out, rel);
  const { code, map } = swc.transformFileSync(file, {
    ...options,
    filename: file,
    outputPath: dest,
  });
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.writeFileSync(dest, `${code}\n//# sourceMappingURL=${path.basename(dest)}.map`);
  if (map) fs.writeFileSync(`${dest}.map`, map);
  n++;
}
// files read at run time next to the code
fs.cpSync(
  path.join(root, 'libs/gateway/src/nginx.conf.template'),
  path.join(out, 'libs/gateway/src/nginx.conf.template'),
);
fs.cpSync(path.join(root, 'apps/dashboard/src/page'), path.join(out, 'apps/dashboard/src/page'), {
  recursive: true,
});
console.log(`compiled ${n} files to ${path.relative(process.cwd(), out) || '.'}`);
