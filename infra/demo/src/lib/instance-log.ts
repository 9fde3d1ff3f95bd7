import fs from 'node:fs';
import { Stack } from '@stayline/stack-kit';
import { logFileOf, parseLogLine } from './logs';

/** One line of a service instance's log, on this process's clock. */
export interface TimedLogLine {
  /** When it was written, on the `performance.now()` clock of this process (as Load samples are). */
  at: number;
  msg: string;
}

/**
 * What an instance itself wrote in its log (`<state dir>/<name>/service.log`):
 * the callee's own word on which requests it served and when it registered or
 * deregistered, with no instrumentation added for the demo. The file is
 * appended to across restarts and runs: `since` keeps the lines of this run.
 */
export function instanceLog(stack: Stack, name: string, since = -Infinity): TimedLogLine[] {
  const file = logFileOf(stack.component(name));
  if (!fs.existsSync(file)) return [];
  const lines: TimedLogLine[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const timed = timedLine(line);
    if (timed && timed.at >= since) lines.push(timed);
  }
  return lines;
}

/** A log line with its time on this process's clock, or undefined when it has no time or message. */
export function timedLine(line: string): TimedLogLine | undefined {
  const e = parseLogLine(line);
  if (typeof e?.msg !== 'string' || e.time === undefined) return undefined;
  return { at: toPerfClock(new Date(e.time).getTime()), msg: e.msg };
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
