import fs from 'node:fs';
import path from 'node:path';
import { Component } from '@stayline/stack-kit';

/** A pino line of a service or an agent (the fields the demos read). */
export interface LogEntry {
  msg?: string;
  /** ISO time the process wrote it. */
  time?: string;
  [field: string]: unknown;
}

/** The log file a component writes its own lines to (Sentinel keeps its own beside stdout). */
export function logFileOf(c: Component): string {
  const own = path.join(c.dir, `${c.kind}.log`);
  return c.kind === 'sentinel' && fs.existsSync(own) ? own : c.spec.logFile;
}

/**
 * Follows the log files of `components` from now on and hands every complete
 * line appended to one of them to `onLine`, so a demo's timeline can show what
 * the processes themselves said (an agent's decisions, Sentinel's switch).
 * Returns a function that stops following.
 */
export function followLogs(
  components: Component[],
  onLine: (component: string, line: string) => void,
  intervalMs = 50,
): () => void {
  const files = components.map((c) => {
    const file = logFileOf(c);
    return { name: c.name, file, at: fs.existsSync(file) ? fs.statSync(file).size : 0, rest: '' };
  });
  const timer = setInterval(() => {
    for (const f of files) {
      const size = fs.existsSync(f.file) ? fs.statSync(f.file).size : 0;
      if (size < f.at) f.at = 0; // rotated or truncated by a restart: read it from the start
      if (size === f.at) continue;
      const fd = fs.openSync(f.file, 'r');
      const buf = Buffer.alloc(size - f.at);
      fs.readSync(fd, buf, 0, buf.length, f.at);
      fs.closeSync(fd);
      f.at = size;
      // a line may still be half written: keep its start for the next read
      const lines = (f.rest + buf.toString('utf8')).split('\n');
      f.rest = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) onLine(f.name, line);
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** The pino entry of a log line, or undefined when the line is not JSON. */
export function parseLogLine(line: string): LogEntry | undefined {
  try {
    const entry = JSON.parse(line) as unknown;
    return entry && typeof entry === 'object' ? (entry as LogEntry) : undefined;
  } catch {
    return undefined;
  }
}
