import type { NodeAddress, Topology } from '@stayline/contracts';
import { z } from 'zod';

export type { NodeAddress, Topology };

const address = z.object({
  name: z.string().regex(/^[\w.-]{1,64}$/, 'node names are short plain words'),
  host: z.string().min(1).max(255),
  port: z.number().int().min(1).max(65535),
});

/** Schema of a {@link Topology}: names unique, the primary neither a replica nor fenced. */
export const topologySchema = z
  .object({
    epoch: z.number().int().nonnegative(),
    primary: address,
    replicas: z.array(address),
    fenced: z.array(z.string()).optional(),
  })
  .superRefine((t, ctx) => {
    const names = [t.primary.name, ...t.replicas.map((r) => r.name)];
    if (new Set(names).size !== names.length)
      ctx.addIssue({ code: 'custom', message: 'node names must be unique' });
    const fenced = new Set(t.fenced ?? []);
    if (names.some((n) => fenced.has(n)))
      ctx.addIssue({ code: 'custom', message: 'a fenced node cannot be primary or replica' });
  });

/** Validates a topology, throwing a readable error. */
export function parseTopology(input: Topology): Topology {
  const parsed = topologySchema.safeParse(input);
  if (!parsed.success) throw new Error(`invalid topology: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** Whether two addresses point at the same server. */
export function sameAddress(a: NodeAddress, b: NodeAddress): boolean {
  return a.name === b.name && a.host === b.host && a.port === b.port;
}

/** A short line for logs: `epoch 2: primary mariadb-2, replicas mariadb-3, fenced mariadb-1`. */
export function describeTopology(t: Topology): string {
  const fenced = t.fenced?.length ? `, fenced ${t.fenced.join(' ')}` : '';
  return `epoch ${t.epoch}: primary ${t.primary.name}, replicas ${t.replicas.map((r) => r.name).join(' ') || 'none'}${fenced}`;
}
