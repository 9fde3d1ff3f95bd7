/**
 * What every `npm run demo:<pattern>` shares: it attaches to the stack
 * `npm run stack:up` started, prints a live timeline (what it breaks, what the
 * system does, when), checks that the expected healing happened, puts back what
 * it broke, and ends with a table of measured figures next to their goals and
 * anchors. It exits non-zero when a check failed.
 *
 *   npm run demo:lb                 the full experiment
 *   npm run demo:lb -- --quick      shorter phases (the e2e test runs this)
 *   npm run demo:lb -- --report=f   also writes the checks and figures as JSON
 *
 * @example
 *   runDemo({ name: 'lb', title: 'Load balancing' }, async (d) => {
 *     d.step('kill one instance');
 *     d.stack.kill('reservation-1', 'SIGKILL');
 *     d.onCleanup(() => d.stack.restart('reservation-1'));
 *     d.check('no request failed', errors === 0, `${errors} errors`);
 *     d.figure('errors', errors, 'requests', { goal: '0' });
 *   });
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Stack } from '@stayline/stack-kit';

const ROOT = path.resolve(__dirname, '../../../..');

/** The state dir of the commands' stack (STAYLINE_STATE_DIR moves it). */
export const STATE_DIR = path.resolve(process.env.STAYLINE_STATE_DIR ?? path.join(ROOT, '.stack'));

export interface DemoFigure {
  name: string;
  value: number | string;
  unit: string;
  /** What the project aims at, e.g. `<= 2000`. */
  goal?: string;
  /** What a peer or the seed's setup shows, e.g. `Eureka: 30-90 s`. */
  anchor?: string;
}

export interface DemoCheck {
  what: string;
  ok: boolean;
  detail?: string;
}

/** The machine-readable result (`--report=<file>`), read by the e2e test. */
export interface DemoReport {
  name: string;
  ok: boolean;
  quick: boolean;
  durationMs: number;
  checks: DemoCheck[];
  figures: DemoFigure[];
  error?: string;
}

export interface DemoSpec {
  /** `lb` for `npm run demo:lb`. */
  name: string;
  /** One line on what it shows. */
  title: string;
}

/** One run of a demo: the stack, the timeline, the checks and the figures. */
export class Demo {
  readonly quick = process.argv.includes('--quick');
  readonly checks: DemoCheck[] = [];
  readonly figures: DemoFigure[] = [];
  private readonly cleanups: Array<{ what: string; run: () => unknown }> = [];
  private readonly t0 = performance.now();

  constructor(
    readonly spec: DemoSpec,
    readonly stack: Stack,
  ) {}

  /** Milliseconds since the demo started. */
  now(): number {
    return performance.now() - this.t0;
  }

  /** A timeline line, stamped with the time since the demo started. */
  say(line: string): void {
    console.log(`${formatClock(this.now())}  ${line}`);
  }

  /** A new phase of the experiment. */
  step(title: string): void {
    console.log(`\n${formatClock(this.now())}  == ${title}`);
  }

  /** Records (and prints) whether the system did what it should. */
  check(what: string, ok: boolean, detail?: string): boolean {
    this.checks.push({ what, ok, detail });
    this.say(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? ` (${detail})` : ''}`);
    return ok;
  }

  /** A measured figure for the closing table. */
  figure(
    name: string,
    value: number | string,
    unit: string,
    o: Omit<DemoFigure, 'name' | 'value' | 'unit'> = {},
  ): void {
    this.figures.push({
      name,
      value: typeof value === 'number' ? round(value) : value,
      unit,
      ...o,
    });
  }

  /**
   * Something to put back at the end, whatever happens (restart a killed
   * instance, SIGCONT a stopped one, clear a flag): run last-first.
   */
  onCleanup(what: string, run: () => unknown): void {
    this.cleanups.push({ what, run });
  }

  /** Picks the duration of a phase: the full one, or the `--quick` one. */
  pick<T>(full: T, quick: T): T {
    return this.quick ? quick : full;
  }

  /**
   * Polls `check` every `intervalMs` until it holds; resolves the milliseconds
   * it took, or fails the experiment after `timeoutMs` naming `what`.
   */
  async until(
    what: string,
    check: () => boolean | Promise<boolean>,
    o: { timeoutMs?: number; intervalMs?: number } = {},
  ): Promise<number> {
    const t = performance.now();
    const deadline = t + (o.timeoutMs ?? 30_000);
    for (;;) {
      if (await check()) return performance.now() - t;
      if (performance.now() > deadline)
        throw new Error(`${what}: not within ${o.timeoutMs ?? 30_000} ms`);
      await sleep(o.intervalMs ?? 20);
    }
  }

  /** The gateway's base URL, e.g. `http://127.0.0.1:8080`. */
  get gateway(): string {
    return this.stack.nginx.url;
  }

  async runCleanups(): Promise<void> {
    for (const c of this.cleanups.splice(0).reverse()) {
      try {
        await c.run();
      } catch (err) {
        this.say(`could not ${c.what}: ${(err as Error).message}`);
      }
    }
  }
}

/**
 * Runs a demo against the stack in STATE_DIR and sets the exit code: 0 when
 * every check passed, 1 otherwise (or when it threw).
 */
export async function runDemo(
  spec: DemoSpec,
  body: (d: Demo) => Promise<void>,
): Promise<DemoReport> {
  const stack = Stack.attach(STATE_DIR);
  if (!stack) {
    console.error(`no stack recorded in ${STATE_DIR}; start one with: npm run stack:up`);
    process.exitCode = 1;
    throw new Error('no stack');
  }
  const d = new Demo(spec, stack);
  console.log(`demo:${spec.name}: ${spec.title}${d.quick ? ' (quick)' : ''}`);
  let error: Error | undefined;
  try {
    await body(d);
  } catch (err) {
    error = err as Error;
    d.check('the experiment ran to its end', false, error.message);
  } finally {
    await d.runCleanups();
  }
  const report: DemoReport = {
    name: spec.name,
    ok: !error && d.checks.length > 0 && d.checks.every((c) => c.ok),
    quick: d.quick,
    durationMs: Math.round(d.now()),
    checks: d.checks,
    figures: d.figures,
    error: error?.stack,
  };
  console.log(`\n${formatTable(report.figures)}`);
  const failed = report.checks.filter((c) => !c.ok);
  console.log(
    `\n${report.checks.length - failed.length}/${report.checks.length} checks passed` +
      (failed.length ? `; failed: ${failed.map((c) => c.what).join('; ')}` : ''),
  );
  if (error) console.error(error.stack ?? error.message);
  const reportArg = process.argv.find((a) => a.startsWith('--report='));
  if (reportArg)
    fs.writeFileSync(reportArg.slice('--report='.length), JSON.stringify(report, null, 2));
  process.exitCode = report.ok ? 0 : 1;
  return report;
}

/** `+  12.345 s`. */
export function formatClock(ms: number): string {
  return `+${(ms / 1000).toFixed(3).padStart(8)} s`;
}

/** The closing table: figure, measured, goal, anchor. */
export function formatTable(figures: DemoFigure[]): string {
  const rows = [
    ['FIGURE', 'MEASURED', 'GOAL', 'ANCHOR'],
    ...figures.map((f) => [f.name, `${f.value} ${f.unit}`.trim(), f.goal ?? '-', f.anchor ?? '-']),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r
        .map((v, i) => v.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
