/**
 * `npm run bench`: runs every scenario in bench/src/scenarios (each starts its own
 * stack on free ports and stops it), prints a table and writes bench/results/latest.json.
 *   npm run bench -- --only=breaker,database
 * With --only, the file keeps the other scenarios' figures from the runs before (each
 * figure says when it was measured, `at`), so it always holds every figure of the contract.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Figure, Scenario } from './figure';

const SCENARIO_DIR = path.join(__dirname, 'scenarios');
const RESULTS = path.resolve(__dirname, '../results/latest.json');

async function main(): Promise<void> {
  const only = process.argv
    .find((a) => a.startsWith('--only='))
    ?.slice('--only='.length)
    .split(',');
  const names = fs
    .readdirSync(SCENARIO_DIR)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'))
    .map((f) => f.replace(/\.ts$/, ''))
    .filter((n) => !only || only.includes(n))
    .sort();
  const figures: Figure[] = [];
  const failures: string[] = [];
  const started = new Date().toISOString();
  for (const name of names) {
    const mod = (await import(path.join(SCENARIO_DIR, name))) as { run?: Scenario };
    if (typeof mod.run !== 'function') continue;
    console.error(`\n--- ${name} ---`);
    const t0 = Date.now();
    try {
      const got = await mod.run();
      figures.push(
        ...got.map((f) => ({ command: `npm run bench -- --only=${name}`, at: started, ...f })),
      );
      console.error(
        `${name}: ${got.length} figure(s) in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      );
    } catch (err) {
      failures.push(name);
      console.error(`${name} failed: ${(err as Error).stack ?? err}`);
    }
  }
  const result = {
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, node: process.version },
    figures: only ? [...earlierFigures(names), ...figures] : figures,
    failures,
  };
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(RESULTS, JSON.stringify(result, null, 2));
  const rows = figures.map((f) => [f.name, String(f.value), f.unit, f.goal ?? '', f.anchor ?? '']);
  const header = ['FIGURE', 'VALUE', 'UNIT', 'GOAL', 'ANCHOR'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  console.log(
    [header, ...rows]
      .map((r) =>
        r
          .map((v, i) => v.padEnd(widths[i]))
          .join('  ')
          .trimEnd(),
      )
      .join('\n'),
  );
  console.log(`\nwritten to ${path.relative(process.cwd(), RESULTS)}`);
  if (failures.length) {
    console.error(`failed scenarios: ${failures.join(', ')}`);
    process.exitCode = 1;
  }
}

/**
 * The figures of the last results file from scenarios this run did not run (each keeps the
 * time it was measured): a partial run replaces only its own scenarios' figures.
 */
function earlierFigures(ran: string[]): Figure[] {
  let earlier: { at?: string; figures?: Figure[] };
  try {
    earlier = JSON.parse(fs.readFileSync(RESULTS, 'utf8')) as typeof earlier;
  } catch {
    return [];
  }
  const scenarioOf = (f: Figure) => /--only=([\w-]+)/.exec(f.command ?? '')?.[1];
  return (earlier.figures ?? [])
    .filter((f) => !ran.includes(scenarioOf(f) ?? ''))
    .map((f) => ({ at: earlier.at, ...f }));
}

void main();
