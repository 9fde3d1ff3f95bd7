import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/** Service names and instance ids: safe in Redis keys, DNS labels and JSON without escaping. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export const serviceInstanceSchema = z.object({
  service: z.string().regex(NAME),
  id: z.string().regex(NAME),
  host: z.string().min(1),
  httpPort: z.number().int().positive().optional(),
  tcpPort: z.number().int().positive().optional(),
  version: z.string(),
  startedAt: z.string(),
  /** `datastore`: registered by an agent on its behalf (a datastore cannot register itself). */
  kind: z.enum(['service', 'datastore']),
  /** For datastores: `primary` or `replica`. */
  role: z.string().optional(),
  metadata: z.record(z.string(), z.string()),
});

/** One running instance as the registry knows it. See docs/patterns/service-discovery.md. */
export type ServiceInstance = z.infer<typeof serviceInstanceSchema>;

/** Parses and validates an instance (from config, from Redis, from a pushed message). */
export function parseInstance(value: unknown): ServiceInstance {
  return serviceInstanceSchema.parse(value);
}

export interface DescribeInstanceInput {
  service: string;
  host: string;
  httpPort?: number;
  tcpPort?: number;
  version?: string;
  id?: string;
  kind?: ServiceInstance['kind'];
  role?: string;
  metadata?: Record<string, string>;
}

/** Builds the record of this process's instance: a unique id (service, host name, pid, random suffix) and the start time. */
export function describeInstance(input: DescribeInstanceInput): ServiceInstance {
  const id =
    input.id ??
    `${input.service}-${os.hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
  return parseInstance({
    service: input.service,
    id: id.replace(/[^A-Za-z0-9._:-]/g, '-'),
    host: input.host,
    httpPort: input.httpPort,
    tcpPort: input.tcpPort,
    version: input.version ?? '0.0.0',
    startedAt: new Date().toISOString(),
    kind: input.kind ?? 'service',
    role: input.role,
    metadata: input.metadata ?? {},
  });
}

/** The names a service and an instance id may take. */
export function assertName(what: string, value: string): void {
  if (!NAME.test(value))
    throw new Error(`invalid ${what} "${value}": use letters, digits and . _ : - (max 128)`);
}

/** The id of an instance known only by its address (static list, DNS): `host:port`. */
export function addressId(host: string, port: number): string {
  return `${host}:${port}`.replace(/[^A-Za-z0-9._:-]/g, '-');
}
