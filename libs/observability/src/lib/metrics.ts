import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type Metric,
} from 'prom-client';

/** The process's one Prometheus registry, with Node's default metrics. */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

type MetricClass<M> = new (config: never) => M;

// Several modules (or several instances of one) may ask for the same metric:
// hand back the registered one instead of letting prom-client throw on the duplicate.
function registered<M extends Metric<string>>(
  kind: MetricClass<M>,
  name: string,
  labelNames: readonly string[],
  create: () => M,
): M {
  const existing = metricsRegistry.getSingleMetric(name);
  if (existing === undefined) return create();
  if (!(existing instanceof kind)) {
    throw new Error(
      `metric ${name} is already registered as a ${existing.constructor.name}, not a ${kind.name}`,
    );
  }
  const known = (existing as unknown as { labelNames: readonly string[] }).labelNames;
  if (known.join() !== labelNames.join()) {
    throw new Error(
      `metric ${name} is already registered with labels [${known.join()}], not [${labelNames.join()}]`,
    );
  }
  return existing;
}

/** The counter named `name`, created in {@link metricsRegistry} on first use. */
export function counter<T extends string>(
  name: string,
  help: string,
  labelNames: readonly T[] = [],
): Counter<T> {
  return registered(
    Counter<T>,
    name,
    labelNames,
    () => new Counter({ name, help, labelNames, registers: [metricsRegistry] }),
  );
}

/** The gauge named `name`, created in {@link metricsRegistry} on first use. */
export function gauge<T extends string>(
  name: string,
  help: string,
  labelNames: readonly T[] = [],
): Gauge<T> {
  return registered(
    Gauge<T>,
    name,
    labelNames,
    () => new Gauge({ name, help, labelNames, registers: [metricsRegistry] }),
  );
}

/** The histogram named `name`, created in {@link metricsRegistry} on first use. */
export function histogram<T extends string>(
  name: string,
  help: string,
  labelNames: readonly T[] = [],
  buckets?: number[],
): Histogram<T> {
  return registered(
    Histogram<T>,
    name,
    labelNames,
    () =>
      new Histogram({
        name,
        help,
        labelNames,
        registers: [metricsRegistry],
        ...(buckets ? { buckets } : {}),
      }),
  );
}

/** A plain `GET /metrics` handler (Prometheus text format), usable without Nest. */
export function metricsHandler(registry: Registry = metricsRegistry) {
  return async (_req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await registry.metrics();
    res.statusCode = 200;
    res.setHeader('Content-Type', registry.contentType);
    res.end(body);
  };
}
