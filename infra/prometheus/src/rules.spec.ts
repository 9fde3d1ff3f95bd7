/**
 * stayline's Prometheus rules (infra/prometheus/rules), checked with the real
 * promtool from Debian's `prometheus` package (infra/install-deps.sh installs it):
 * the file parses (`promtool check rules`), every alert fires and stays silent
 * where its unit tests say (`promtool test rules`), every alert has a test in
 * which it fires, and every metric the rules read is one the code exports.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { load } from 'js-yaml';

const ROOT = path.resolve(__dirname, '../../..');
const RULES = path.resolve(__dirname, '../rules/stayline.rules.yml');
const TESTS = path.resolve(__dirname, '../tests/stayline.rules.test.yml');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}
interface RuleFile {
  groups: Array<{ name: string; rules: Rule[] }>;
}
interface RuleTests {
  tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
}

function promtool(...args: string[]) {
  const res = spawnSync('promtool', args, { encoding: 'utf8', cwd: path.dirname(TESTS) });
  if (res.error) {
    throw new Error(
      `promtool could not run (${res.error.message}): install Debian's prometheus package (infra/install-deps.sh)`,
    );
  }
  return { status: res.status, out: `${res.stdout}${res.stderr}` };
}

/** Every TypeScript file of the services and libraries, production code only. */
function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'testing' ? [] : sources(p);
    return e.name.endsWith('.ts') && !/\.(e2e-)?spec\.ts$/.test(e.name) ? [p] : [];
  });
}

const rules = load(fs.readFileSync(RULES, 'utf8')) as RuleFile;
const all = rules.groups.flatMap((g) => g.rules);
const alerts = all.filter((r) => r.alert).map((r) => r.alert as string);

describe('stayline.rules.yml', () => {
  it('is a valid rule file (promtool check rules)', () => {
    const r = promtool('check', 'rules', RULES);
    expect(r.out).toContain(`SUCCESS: ${all.length} rules found`);
    expect(r.status).toBe(0);
  });

  it('passes its unit tests (promtool test rules): each alert fires where it should, and only there', () => {
    const r = promtool('test', 'rules', TESTS);
    expect(r.out).not.toContain('FAILED');
    expect(r.out).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('has a unit test in which each alert fires', () => {
    const tests = load(fs.readFileSync(TESTS, 'utf8')) as RuleTests;
    const firing = new Set(
      tests.tests
        .flatMap((t) => t.alert_rule_test ?? [])
        .filter((t) => t.exp_alerts.length > 0)
        .map((t) => t.alertname),
    );
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    expect(alerts.filter((a) => !firing.has(a))).toEqual([]);
  });

  it('reads only metrics the code exports (or Prometheus itself: up)', () => {
    const code = ['apps', 'libs']
      .flatMap((d) => sources(path.join(ROOT, d)))
      .map((f) => fs.readFileSync(f, 'utf8'))
      .join('\n');
    const recorded = new Set(all.filter((r) => r.record).map((r) => r.record as string));
    const read = new Set(
      all.flatMap((r) =>
        [...r.expr.matchAll(/\b(stayline_\w+|resilience_\w+)\b/g)].map((m) => m[1]),
      ),
    );
    expect(read.size).toBeGreaterThanOrEqual(5);
    const unknown = [...read].filter((name) => !recorded.has(name) && !code.includes(`'${name}'`));
    expect(unknown).toEqual([]);
  });
});
