import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from './wait';
import { isPortOpen } from './ports';

/** How to start one process of the stack; kept in the state file so any later command can restart it. */
export interface ProcessSpec {
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  logFile: string;
}

/** The signals the fault helpers send. */
export type FaultSignal = 'SIGKILL' | 'SIGSTOP' | 'SIGCONT' | 'SIGTERM';

/**
 * Starts a process in its own process group (so a Ctrl-C in the terminal reaches
 * the launcher, which then stops everything in order), output appended to its log.
 */
export function spawnDetached(spec: ProcessSpec): number {
  const out = fs.openSync(spec.logFile, 'a');
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: { ...process.env, ...spec.env },
    detached: true,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  if (child.pid === undefined) throw new Error(`could not start ${spec.command}`);
  child.unref();
  return child.pid;
}

/**
 * Whether the process runs. A zombie (exited, not yet reaped: PID 1 here reaps
 * late) counts as gone, which `kill -0` would not tell.
 */
export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Whether the process is frozen by SIGSTOP. */
export function isStopped(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'T';
  } catch {
    return false;
  }
}

export function signal(pid: number | undefined, sig: NodeJS.Signals): void {
  if (!pid || !isAlive(pid)) return;
  try {
    // a SIGKILLed nginx master cannot stop its workers: kill the whole process group
    // (every component is spawned detached, so its group is its own)
    process.kill(sig === 'SIGKILL' ? -pid : pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

/**
 * Stops a process: SIGTERM (and SIGCONT, in case it is frozen), then waits until
 * its ports are closed and it has exited; SIGKILL after `graceMs`.
 */
export async function stopProcess(
  pid: number | undefined,
  ports: number[],
  graceMs = 10_000,
): Promise<void> {
  if (pid && isAlive(pid)) {
    signal(pid, 'SIGTERM');
    signal(pid, 'SIGCONT');
    const deadline = Date.now() + graceMs;
    while (isAlive(pid) && Date.now() < deadline) await sleep(20);
    if (isAlive(pid)) signal(pid, 'SIGKILL');
  }
  await waitFor(
    `ports ${ports.join(', ')} to close`,
    async () =>
      !isAlive(pid) && (await Promise.all(ports.map((p) => isPortOpen(p)))).every((o) => !o),
    { timeoutMs: graceMs + 5_000, intervalMs: 20 },
  );
}

/** The last lines of a log file, for error messages. */
export function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
