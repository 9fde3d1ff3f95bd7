/**
 * Feature flags as a service reads them (docs/patterns/coordinator.md): a local
 * copy of every flag, kept current by the store's watch (pushed changes plus
 * periodic rereads), so a change applies without a restart and reads never wait
 * on the network. While the coordinator is unreachable, reads keep answering
 * from the last values seen (or the defaults, before the first read).
 */
import { EventEmitter } from 'node:events';
import { CoordinationLogger, silentLogger } from '../logger';
import { keepTrying, unrefTimeout } from '../timers';
import { FlagStore } from './flag-store';
import { FlagSnapshot, FlagValue } from './flag-value';
import { inRollout } from './rollout';

export interface FeatureFlagsOptions {
  /** Values used until the store has answered once (and for flags it does not have). */
  defaults?: Record<string, FlagValue>;
  /** While the store is unreachable at start, retry this often. Default 1000 ms. */
  retryMs?: number;
  logger?: CoordinationLogger;
}

interface FlagEvents {
  /** After every applied change: the names that changed. */
  change: [changed: readonly string[], snapshot: FlagSnapshot];
}

export class FeatureFlags {
  private snapshotNow: FlagSnapshot = { version: 0, flags: {} };
  private loaded = false;
  private stopped = false;
  private unwatch?: () => Promise<void>;
  private readonly events = new EventEmitter<FlagEvents>();
  private readonly logger: CoordinationLogger;

  constructor(
    private readonly store: FlagStore,
    private readonly options: FeatureFlagsOptions = {},
  ) {
    this.logger = options.logger ?? silentLogger;
  }

  /**
   * Starts following the store. Resolves after the first read, or after
   * `waitMs` (default 2000) with the defaults if the store does not answer;
   * it keeps trying in the background.
   */
  async start({ waitMs = 2_000 }: { waitMs?: number } = {}): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.follow(),
      new Promise<void>((resolve) => (timer = unrefTimeout(resolve, waitMs))),
    ]);
    clearTimeout(timer);
    if (!this.loaded)
      this.logger.warn({ waitMs }, 'flags not loaded yet: serving defaults, still trying');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.unwatch?.();
  }

  /** Whether the store has answered at least once (health: degraded until then). */
  get ready(): boolean {
    return this.loaded;
  }

  /** Every flag as last seen. */
  snapshot(): FlagSnapshot {
    return this.snapshotNow;
  }

  /** The flag's value (the store's, else the default), or undefined. */
  get(name: string): FlagValue | undefined {
    return this.snapshotNow.flags[name] ?? this.options.defaults?.[name];
  }

  /**
   * A boolean flag's value; a percentage flag is on for its share of keys
   * (`context.key`, e.g. the user id; without a key it is off). Unknown: false.
   */
  isEnabled(name: string, context: { key?: string } = {}): boolean {
    const value = this.get(name);
    if (!value) return false;
    if (value.kind === 'boolean') return value.enabled;
    if (value.kind === 'percentage')
      return context.key !== undefined && inRollout(name, context.key, value.percent);
    return false;
  }

  /** A number flag's value, or `fallback`. */
  number(name: string, fallback: number): number {
    const value = this.get(name);
    return value?.kind === 'number' ? value.value : fallback;
  }

  /** Writes a flag through the store (acknowledged once durable); every instance applies it. */
  async set(name: string, value: FlagValue | null): Promise<void> {
    await this.store.write(name, value);
  }

  /** Listens to applied changes; returns a function that stops listening. */
  onChange(listener: (changed: readonly string[], snapshot: FlagSnapshot) => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  private async follow(): Promise<void> {
    const unwatch = await keepTrying(
      () => this.store.watch((snapshot, changed) => this.apply(snapshot, changed)),
      {
        retryMs: this.options.retryMs ?? 1_000,
        stopped: () => this.stopped,
        onFailure: (err) =>
          this.logger.warn({ err: err.message }, 'flag store unreachable; retrying'),
      },
    );
    if (unwatch && this.stopped) await unwatch();
    else if (unwatch) this.unwatch = unwatch;
  }

  private apply(snapshot: FlagSnapshot, changed: readonly string[]): void {
    this.snapshotNow = snapshot;
    this.loaded = true;
    if (changed.length) {
      this.logger.info({ changed, version: snapshot.version }, 'flags changed');
      this.events.emit('change', changed, snapshot);
    }
  }
}
