#!/usr/bin/env node
// `npm test`: every project's unit specs (in parallel), then every e2e spec one
// suite at a time (each starts its own real MariaDB/Redis/nginx stack on free
// ports, and two cores do not sustain several at once). Ends with the line
// `N passed, N failed` summed from jest's own JSON results.
//   npm test                 all of it
//   npm test -- --unit       unit specs only
//   npm test -- --e2e        e2e specs only
//   npm test -- <pattern>    only test files matching the pattern
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const args = process.argv.slice(2);
const only = args.includes('--unit') ? 'unit' : args.includes('--e2e') ? 'e2e' : null;
const patterns = args.filter((a) => !a.startsWith('--'));
const jestBin = require.resolve('jest/bin/jest');
const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stayline-test-'));

const phases = [
  { name: 'unit', match: '\\.spec\\.ts$', extra: ['--maxWorkers=2'] },
  {
    name: 'e2e',
    match: '\\.e2e-spec\\.ts$',
    extra: [`--maxWorkers=${process.env.STAYLINE_E2E_WORKERS ?? 1}`, '--forceExit'],
  },
].filter((p) => !only || p.name === only);

let passed = 0;
let failed = 0;
let skipped = 0;
let broken = false;
for (const phase of phases) {
  const out = path.join(outDir, `${phase.name}.json`);
  const filter = patterns.length ? patterns.map((p) => `${p}.*${phase.match}`) : [phase.match];
  console.log(`\n=== ${phase.name} tests ===`);
  const res = spawnSync(
    process.execPath,
    [
      jestBin,
      '--ci',
      '--passWithNoTests',
      '--json',
      `--outputFile=${out}`,
      '--testPathPatterns',
      ...filter,
      ...phase.extra,
    ],
    { stdio: 'inherit', env: { ...process.env, STAYLINE_TEST_PHASE: phase.name } },
  );
  if (!fs.existsSync(out)) {
    console.error(`jest wrote no results for the ${phase.name} phase (exit ${res.status})`);
    broken = true;
    continue;
  }
  const r = JSON.parse(fs.readFileSync(out, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + r.numTodoTests;
  // a suite that failed to load (syntax error, import failure) has no failed tests of its own
  const brokenSuites = r.testResults.filter(
    (s) => s.status === 'failed' && s.assertionResults.every((a) => a.status !== 'failed'),
  );
  for (const s of brokenSuites) {
    console.error(`suite failed to run: ${path.relative(process.cwd(), s.name)}`);
    failed += 1;
  }
  if (res.status !== 0 && r.numFailedTests === 0 && brokenSuites.length === 0) broken = true;
}
fs.rmSync(outDir, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || broken ? 1 : 0);
