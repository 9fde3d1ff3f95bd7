import fs from 'node:fs';
import { Stack } from '@stayline/launcher';

/** One line of a service instance's pino log. */
export interface LogEntry {
  /** When it was written, on the `performance.now()` clock of this process (as Load samples are). */
  at: number;
  msg: string;
  requestId?: string;
}

/**
 * What an instance itself wrote in its log (`<state dir>/<name>/service.log`):
 * the callee's own word on which requests it served and when it registered or
 * deregistered, with no instrumentation added for the demo. The file is
 * appended to across restarts and runs: `since` keeps the lines of this run.
 */
export function instanceLog(stack: Stack, name: string, since = -Infinity): LogEntry[] {
  const file = stack.component(name).spec.logFile;
  if (!fs.existsSync(file)) return [];
  const entries: LogEntry[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const e = JSON.parse(line) as { time?: string | number; msg?: string; requestId?: string };
      if (e.time === undefined || typeof e.msg !== 'string') continue;
      const at = toPerfClock(new Date(e.time).getTime());
      if (at >= since) entries.push({ at, msg: e.msg, requestId: e.requestId });
    } catch {
      // a line cut by a crash
    }
  }
  return entries;
}

/** The reservations a payment instance charged (its log line per charge), with when. */
export function chargedReservations(
  stack: Stack,
  name: string,
  since = -Infinity,
): Map<string, number> {
  const charged = new Map<string, number>();
  for (const e of instanceLog(stack, name, since)) {
    const m = /^charged reservation (\S+):/.exec(e.msg);
    if (m) charged.set(m[1], e.at);
  }
  return charged;
}

/** Epoch milliseconds (a log's clock) to this process's `performance.now()`. */
export function toPerfClock(epochMs: number): number {
  return epochMs - performance.timeOrigin;
}
