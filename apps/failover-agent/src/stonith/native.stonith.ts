import fs from 'node:fs';
import type { NodeAddress } from '@stayline/database';
import { Stonith, StonithOutcome } from './stonith';

/**
 * STONITH on the native stack: the launcher records every process in its state
 * file; the node's mariadbd is SIGKILLed (which also ends a frozen, SIGSTOPped
 * one) and the agent waits until it is gone. The pid is checked against the
 * command line first, so a recycled pid is never shot.
 */
export class NativeStonith implements Stonith {
  readonly kind = 'native';

  constructor(
    private readonly stateFile: string,
    private readonly timeoutMs = 5_000,
  ) {}

  async stop(node: NodeAddress): Promise<StonithOutcome> {
    const pid = this.pidOf(node);
    if (!pid || !running(pid)) return { result: 'already-down', detail: `no ${node.name} process` };
    const cmdline = readCmdline(pid);
    if (!cmdline.includes('mariadbd') || !cmdline.includes(`--port=${node.port}`))
      throw new Error(`pid ${pid} is not ${node.name}'s mariadbd (${cmdline.slice(0, 80)})`);
    process.kill(pid, 'SIGKILL');
    const until = Date.now() + this.timeoutMs;
    while (running(pid)) {
      if (Date.now() > until) throw new Error(`${node.name} (pid ${pid}) still runs after SIGKILL`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return { result: 'stopped', detail: `SIGKILL to pid ${pid}` };
  }

  private pidOf(node: NodeAddress): number | undefined {
    const state = JSON.parse(fs.readFileSync(this.stateFile, 'utf8')) as {
      components?: Array<{ name: string; kind: string; pid?: number }>;
    };
    return state.components?.find((c) => c.name === node.name && c.kind === 'mariadb')?.pid;
  }
}

function readCmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** Running, frozen included; a zombie (exited, not reaped yet) is gone. */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
