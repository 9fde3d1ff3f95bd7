import { z } from 'zod';
import type { TripPolicy } from './trip-policy';

const positiveMs = z.number().int().positive();

const schema = z.object({
  name: z.string().min(1),
  essential: z.boolean(),
  timeoutMs: positiveMs.default(300),
  breaker: z
    .discriminatedUnion('kind', [
      z.object({ kind: z.literal('consecutive'), threshold: z.number().int().min(1) }),
      z.object({
        kind: z.literal('error-rate'),
        threshold: z.number().gt(0).lt(1),
        windowMs: positiveMs,
        minimumCalls: z.number().int().min(1),
      }),
    ])
    .default({ kind: 'consecutive', threshold: 3 }),
  resetTimeoutMs: positiveMs.default(20_000),
  resetJitter: z.number().min(0).lt(1).default(0.1),
  halfOpenTrials: z.number().int().min(1).default(1),
  bulkhead: z
    .object({
      maxConcurrent: z.number().int().min(1),
      maxQueue: z.number().int().min(0).default(0),
    })
    .default({ maxConcurrent: 64, maxQueue: 0 }),
  retry: z
    .object({
      maxAttempts: z.number().int().min(1),
      baseDelayMs: z.number().int().min(0).default(50),
      maxDelayMs: z.number().int().min(0).default(1000),
    })
    .default({ maxAttempts: 2, baseDelayMs: 50, maxDelayMs: 1000 }),
});

/**
 * How calls to one dependency are guarded. Defaults follow the seed: a 300 ms
 * timeout, open after 3 failures in a row, a 20 s reset, one trial call.
 */
export interface DependencyConfig {
  /** The dependency's name (`payment`): metrics label, log field, health key. */
  readonly name: string;
  /** Essential calls fail fast (503); non-essential ones take a fallback. */
  readonly essential: boolean;
  /** Timeout of each attempt, unless a call sets its own. Default 300. */
  readonly timeoutMs?: number;
  /** When an endpoint's breaker opens. Default `{ kind: 'consecutive', threshold: 3 }`. */
  readonly breaker?: TripPolicy;
  /** How long a breaker stays open before a trial call. Default 20000. */
  readonly resetTimeoutMs?: number;
  /** Spread of the reset timeout, 0..1. Default 0.1. */
  readonly resetJitter?: number;
  /** Successful trial calls needed to close. Default 1. */
  readonly halfOpenTrials?: number;
  /** Calls in flight at once (and waiting) for the whole dependency. Default 64 and 0. */
  readonly bulkhead?: { readonly maxConcurrent: number; readonly maxQueue?: number };
  /**
   * Retries of idempotent calls (or calls with a `retryKey`), each on an
   * endpoint not tried yet, after an exponential, jittered delay.
   * `maxAttempts` counts the first attempt. Default 2, 50 ms, 1000 ms.
   */
  readonly retry?: {
    readonly maxAttempts: number;
    readonly baseDelayMs?: number;
    readonly maxDelayMs?: number;
  };
}

/** {@link DependencyConfig} with every default filled in. */
export type ResolvedDependencyConfig = z.output<typeof schema>;

/** Validates `config` and fills in defaults; throws a readable error on bad input. */
export function resolveDependencyConfig(config: DependencyConfig): ResolvedDependencyConfig {
  const parsed = schema.safeParse(config);
  if (!parsed.success) {
    throw new Error(
      `invalid resilience config for ${String(config.name)}: ${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}
