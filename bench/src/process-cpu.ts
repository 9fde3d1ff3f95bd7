/**
 * CPU time of a stack's processes, read from /proc: what the bookings and
 * observability scenarios charge per booking. The load generator (the bench's
 * own process) is not a component and is not counted.
 */
import fs from 'node:fs';
import type { Component } from '@stayline/stack-kit';

const TICK_MS = 1000 / 100; // USER_HZ: 100 on Linux

/** utime + stime + cutime + cstime of every process, by pid, and each pid's parent. */
function processTable(): Map<number, { ppid: number; ticks: number }> {
  const table = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // fields after "(comm)": state ppid ... utime(14) stime(15) cutime(16) cstime(17)
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    table.set(Number(entry), { ppid: Number(f[1]), ticks });
  }
  return table;
}

/** CPU ms so far of each component's process and its descendants (nginx: master and workers). */
export function cpuByComponent(components: readonly Component[]): Map<string, number> {
  const table = processTable();
  const children = new Map<number, number[]>();
  for (const [pid, p] of table) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
  const treeTicks = (pid: number): number =>
    (table.get(pid)?.ticks ?? 0) +
    (children.get(pid) ?? []).reduce((sum, c) => sum + treeTicks(c), 0);
  return new Map(
    components.filter((c) => c.pid).map((c) => [c.name, treeTicks(c.pid as number) * TICK_MS]),
  );
}

/** What each component burnt between two readings. */
export function cpuDelta(
  before: Map<string, number>,
  after: Map<string, number>,
): Map<string, number> {
  return new Map([...after].map(([name, ms]) => [name, ms - (before.get(name) ?? ms)]));
}
