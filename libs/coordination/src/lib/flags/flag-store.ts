import { FlagSnapshot, FlagValue } from './flag-value';

/** Receives the complete flags after every change, with the names that changed. */
export type FlagListener = (snapshot: FlagSnapshot, changed: readonly string[]) => void;

/**
 * Where feature flags live centrally (Redis now, etcd next). Reads in a
 * service go through FeatureFlags and its local copy, never to the store.
 * See docs/patterns/coordinator.md.
 */
export interface FlagStore {
  /** Reads every flag. */
  load(): Promise<FlagSnapshot>;
  /**
   * Sets a flag (`null` deletes it). Resolves once the write would survive
   * the loss of the primary; rejects otherwise (FlagWriteNotDurableError),
   * in which case it may or may not have been applied: read back and retry.
   */
  write(name: string, value: FlagValue | null): Promise<number>;
  /** Calls `listener` with the current flags, then after every change; resolves after the first call. */
  watch(listener: FlagListener): Promise<() => Promise<void>>;
}

export class FlagWriteNotDurableError extends Error {
  constructor(name: string, ackTimeoutMs: number) {
    super(
      `flag ${name} written to the primary but no replica acknowledged it within ${ackTimeoutMs} ms`,
    );
    this.name = 'FlagWriteNotDurableError';
  }
}
