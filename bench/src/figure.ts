/** One measured figure of `npm run bench` (ARCHITECTURE "The bench contract"). */
export interface Figure {
  /** Stable dotted name, e.g. `breaker.open.p99`. */
  name: string;
  value: number;
  unit: string;
  /** The target, e.g. `<= 2`. */
  goal?: string;
  /** A peer's or a managed service's figure to compare with. */
  anchor?: string;
  /** The command that reproduces it. */
  command?: string;
  /** When the run that measured it started (ISO 8601). */
  at?: string;
}

/** A benchmark scenario: starts what it needs, measures, stops it all again. */
export type Scenario = () => Promise<Figure[]>;

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** p50/p99/max of raw samples. */
export function summarize(samples: number[]): { p50: number; p99: number; max: number; n: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1],
    n: sorted.length,
  };
}

export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/**
 * Runs `scenario` when its file is the program (`node scripts/run.cjs
 * bench/src/scenarios/<name>.ts`) and prints its figures as JSON; does nothing
 * when `npm run bench` imports the file. run.cjs loads the file with require(),
 * so `require.main` is run.cjs there: it sets argv[1] to the file instead.
 */
export function runWhenMain(scenarioModule: NodeJS.Module, scenario: Scenario): void {
  if (require.main !== scenarioModule && process.argv[1] !== scenarioModule.filename) return;
  scenario().then(
    (figures) => console.log(JSON.stringify(figures, null, 2)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
