import { z } from 'zod';

/** Flag names: safe in Redis keys and in the pushed messages without escaping. */
export const FLAG_NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/i;

export const flagValueSchema = z.discriminatedUnion('kind', [
  /** On or off for everyone. */
  z.object({ kind: z.literal('boolean'), enabled: z.boolean() }),
  /** A number (a limit, a timeout, an injected latency). */
  z.object({ kind: z.literal('number'), value: z.number().finite() }),
  /** On for `percent` % of keys (user ids), the same keys every time. */
  z.object({ kind: z.literal('percentage'), percent: z.number().min(0).max(100) }),
]);

/** A feature flag's value. See docs/patterns/coordinator.md. */
export type FlagValue = z.infer<typeof flagValueSchema>;

/** All flags at one version of the store. */
export interface FlagSnapshot {
  /** Grows with every write (may step back after a failover lost unacknowledged writes). */
  readonly version: number;
  readonly flags: Readonly<Record<string, FlagValue>>;
}

/** Builders: `flag.boolean(true)`, `flag.number(250)`, `flag.percentage(10)`. */
export const flag = {
  boolean: (enabled: boolean): FlagValue => ({ kind: 'boolean', enabled }),
  number: (value: number): FlagValue => ({ kind: 'number', value }),
  percentage: (percent: number): FlagValue =>
    flagValueSchema.parse({ kind: 'percentage', percent }),
};

export function assertFlagName(name: string): void {
  if (!FLAG_NAME.test(name))
    throw new Error(`invalid flag name "${name}": letters, digits and . _ - (max 128)`);
}
