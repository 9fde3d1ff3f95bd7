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
  return parseLines(fs.readFileSync(file, 'utf8')).filter((e) => e.at >= since);
}

function parseLines(text: string): LogEntry[] {
  const entries: LogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const e = JSON.parse(line) as { time?: string | number; msg?: string; requestId?: string };
      if (e.time === undefined || typeof e.msg !== 'string') continue;
      entries.push({
        at: toPerfClock(new Date(e.time).getTime()),
        msg: e.msg,
        requestId: e.requestId,
      });
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

/**
 * Prints, as they are written, the lines of some instances' logs that match:
 * the services' own account of what they decide (a breaker opening, a trial
 * call), on the demo's timeline. Reads only what was appended since the last
 * look, every `intervalMs`. Returns the function that stops it.
 */
export function followLogs(
  stack: Stack,
  names: string[],
  match: (msg: string) => boolean,
  onEntry: (name: string, entry: LogEntry) => void,
  intervalMs = 200,
): () => void {
  const offsets = new Map(names.map((n) => [n, fileSize(stack.component(n).spec.logFile)]));
  const poll = () => {
    for (const name of names) {
      const file = stack.component(name).spec.logFile;
      const from = offsets.get(name) ?? 0;
      const size = fileSize(file);
      if (size <= from) continue;
      const fd = fs.openSync(file, 'r');
      const chunk = Buffer.alloc(size - from);
      fs.readSync(fd, chunk, 0, chunk.length, from);
      fs.closeSync(fd);
      const text = chunk.toString('utf8');
      const complete = text.lastIndexOf('\n') + 1;
      offsets.set(name, from + Buffer.byteLength(text.slice(0, complete)));
      for (const entry of parseLines(text.slice(0, complete)))
        if (match(entry.msg)) onEntry(name, entry);
    }
  };
  const timer = setInterval(poll, intervalMs);
  return () => {
    clearInterval(timer);
    poll();
  };
}

function fileSize(file: string): number {
  return fs.existsSync(file) ? fs.statSync(file).size : 0;
}
