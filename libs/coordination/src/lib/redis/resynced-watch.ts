import { CoordinationLogger, silentLogger } from '../logger';
import { jittered, unrefTimeout } from '../timers';
import { SubscriberHub } from './subscriber-hub';

/** After a failed full read (coordinator unreachable), try again this soon. */
const RETRY_MS = 500;

export interface ResyncedWatchOptions {
  hub: SubscriberHub;
  channel: string;
  /** Applies one pushed change to local state (must be idempotent: a change can be replayed). */
  apply(message: string): void;
  /** Reads the full state and replaces the local one; `reason` is start, reconnect or periodic. */
  load(reason: string): Promise<void>;
  /** Full reread period (jittered ±10 %); repairs whatever pub/sub lost. */
  resyncMs: number;
  logger?: CoordinationLogger;
}

/**
 * Push with repair: changes arrive over pub/sub and are applied without a
 * round trip; a full read at start, after every reconnect and every
 * `resyncMs` repairs anything pub/sub lost (it is at-most-once and drops what
 * is published during a failover). Messages that arrive while a full read is
 * in flight are held and replayed on top of it, in order, so a read that was
 * taken just before a change cannot undo it.
 */
export class ResyncedWatch {
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => Promise<void>;
  private offReconnect?: () => void;
  private held: string[] | undefined;
  private inflight?: Promise<void>;
  private again = false;
  private stopped = false;
  private readonly logger: CoordinationLogger;

  constructor(private readonly o: ResyncedWatchOptions) {
    this.logger = o.logger ?? silentLogger;
  }

  /** Subscribes, then reads the full state; resolves once the local state is complete. */
  async start(): Promise<void> {
    this.unsubscribe = await this.o.hub.subscribe(this.o.channel, (m) => this.onMessage(m));
    this.offReconnect = this.o.hub.onReconnect(() => void this.resync('reconnect'));
    try {
      await this.resync('start', true);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /**
   * Reads the full state now (also run periodically and after reconnects).
   * Reads never overlap: one asked for while another runs follows it.
   */
  resync(reason: string, rethrow = false): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.inflight) {
      this.again = true;
      return this.inflight;
    }
    this.inflight = this.load(reason, rethrow).finally(() => {
      this.inflight = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.resync(reason);
      }
    });
    return this.inflight;
  }

  private async load(reason: string, rethrow: boolean): Promise<void> {
    if (this.stopped) return;
    clearTimeout(this.timer);
    let next = this.o.resyncMs;
    this.held = [];
    try {
      await this.o.load(reason);
    } catch (err) {
      next = Math.min(next, RETRY_MS);
      this.logger.warn(
        { channel: this.o.channel, reason, err: (err as Error).message },
        'resync failed; retrying',
      );
      if (rethrow) throw err;
    } finally {
      const held = this.held ?? [];
      this.held = undefined;
      for (const m of held) this.o.apply(m);
      if (!this.stopped)
        this.timer = unrefTimeout(() => void this.resync('periodic'), jittered(next));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.offReconnect?.();
    await this.unsubscribe?.();
  }

  private onMessage(message: string): void {
    if (this.held) this.held.push(message);
    else this.o.apply(message);
  }
}
