import fs from 'node:fs';
import type { Logger } from 'pino';

/** Where a failover can be held for a fault test: after the old primary is fenced, after the promotion (before publication). */
export type PausePoint = 'after-fence' | 'after-promote';

export interface PausePointsOptions {
  /** The points enabled (from FAILOVER_PAUSE_POINTS; none in production). */
  enabled: readonly string[];
  /** A paused failover resumes after this long... */
  maxMs: number;
  /** ...or as soon as this file exists. */
  releaseFile?: string;
  logger: Logger;
}

/**
 * Named points where the agent stops in the middle of a failover, so that a
 * test kills it at exactly that moment, every run ("killed between promotion
 * and publication"). Off unless a test setting enables them.
 */
export class PausePoints {
  private current?: { point: PausePoint; since: string };

  constructor(private readonly o: PausePointsOptions) {}

  /** The point the agent waits at now, if any (shown on /health). */
  get paused(): { point: PausePoint; since: string } | undefined {
    return this.current;
  }

  /** Waits at `point` when it is enabled; returns at once otherwise. */
  async reach(point: PausePoint, context: Record<string, unknown> = {}): Promise<void> {
    if (!this.o.enabled.includes(point)) return;
    this.current = { point, since: new Date().toISOString() };
    this.o.logger.warn(
      { pausePoint: point, maxMs: this.o.maxMs, releaseFile: this.o.releaseFile, ...context },
      `paused at ${point} (test setting FAILOVER_PAUSE_POINTS)`,
    );
    const until = performance.now() + this.o.maxMs;
    while (performance.now() < until) {
      if (this.o.releaseFile && fs.existsSync(this.o.releaseFile)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    this.current = undefined;
    this.o.logger.warn({ pausePoint: point }, `resuming after ${point}`);
  }
}
