import path from 'node:path';

/** The repository's root (the launcher runs from its sources or from dist, both four levels down). */
export const REPO_ROOT = path.resolve(__dirname, '../../../..');

/** The repository's TypeScript runner (SWC, no build step). */
const RUN_SCRIPT = path.join(REPO_ROOT, 'scripts', 'run.cjs');

/** Node's arguments to run an entry point: a `.ts` one through the runner, a built `.js` as is. */
export function entryArgs(entry: string): string[] {
  return entry.endsWith('.ts') ? [RUN_SCRIPT, entry] : [entry];
}
