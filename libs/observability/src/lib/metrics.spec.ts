import { counter, gauge, histogram, metricsHandler, metricsRegistry } from './metrics';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

describe('metric helpers', () => {
  it('return the already registered metric instead of throwing on a duplicate', async () => {
    const first = counter('spec_calls_total', 'calls', ['outcome']);
    const second = counter('spec_calls_total', 'calls', ['outcome']);
    expect(second).toBe(first);
    first.inc({ outcome: 'ok' });
    second.inc({ outcome: 'ok' });
    const text = await metricsRegistry.getSingleMetricAsString('spec_calls_total');
    expect(text).toContain('spec_calls_total{outcome="ok"} 2');
  });

  it('are idempotent for gauges and histograms too', () => {
    expect(gauge('spec_depth', 'depth')).toBe(gauge('spec_depth', 'depth'));
    expect(histogram('spec_seconds', 's', ['x'], [0.1, 1])).toBe(
      histogram('spec_seconds', 's', ['x']),
    );
  });

  it('refuse a name already used by another kind of metric or other labels', () => {
    counter('spec_kind_total', 'k', ['a']);
    expect(() => gauge('spec_kind_total', 'k', ['a'])).toThrow(/already registered as a Counter/);
    expect(() => counter('spec_kind_total', 'k', ['b'])).toThrow(/labels \[a\]/);
  });

  it('include Node default metrics in the shared registry', async () => {
    expect(await metricsRegistry.metrics()).toContain('process_cpu_user_seconds_total');
  });
});

describe('metricsHandler', () => {
  let server: Server;
  afterEach(() => new Promise((resolve) => server.close(resolve)));

  it('serves the registry in Prometheus text format over plain node:http', async () => {
    gauge('spec_plain_handler', 'h').set(3);
    server = createServer(metricsHandler()).listen(0);
    await new Promise((resolve) => server.once('listening', resolve));
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(await res.text()).toContain('spec_plain_handler 3');
  });
});
