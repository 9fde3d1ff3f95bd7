/**
 * The gateway sync process: keeps the nginx gateway's upstreams equal to the
 * registry's instances (docs/patterns/load-balancing.md, "Server side").
 * Started by the launcher as the `gateway-sync` agent; its own HTTP port serves
 * `/health/live`, `/health/ready`, `/upstreams` and `/sd/prometheus` (the instances as
 * Prometheus' HTTP service discovery takes them; never routed by the gateway).
 *   node scripts/run.cjs infra/gateway-sync/src/main.ts   (environment: lib/sync-config.ts)
 */
import http from 'node:http';
import { gatewayServices, renderNginxConfig } from '@stayline/gateway';
import { createLogger } from '@stayline/observability';
import { chosenRegistry, redisTargetOf } from '@stayline/service-runtime';
import { GatewaySync } from './lib/gateway-sync';
import { NginxReloader } from './lib/nginx-reloader';
import { syncConfig, syncLimits } from './lib/sync-config';

async function main(): Promise<void> {
  const c = syncConfig();
  const logger = createLogger({ service: 'gateway-sync', level: c.LOG_LEVEL });
  // its Redis user may only read the registry: its watches remove no lapsed lease
  const registry = chosenRegistry(c, redisTargetOf(c), logger, { sweepLeases: false });
  const sync = new GatewaySync({
    resolver: registry,
    services: gatewayServices(),
    render: (upstreams) =>
      renderNginxConfig({
        prefix: c.GATEWAY_PREFIX,
        host: c.GATEWAY_HOST,
        port: c.GATEWAY_PORT,
        upstreams,
        limits: syncLimits(c),
        traceSample: c.STAYLINE_TRACE_SAMPLE,
      }),
    applier: new NginxReloader({ prefix: c.GATEWAY_PREFIX, binary: c.NGINX_BIN }),
    debounceMs: c.SYNC_DEBOUNCE_MS,
    reconcileMs: c.SYNC_RECONCILE_MS,
    minReloadIntervalMs: c.SYNC_MIN_RELOAD_INTERVAL_MS,
    logger,
  });

  let ready = false;
  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET')
      return send(405, { error: 'method_not_allowed', message: 'GET only' });
    if (url === '/health/live') return send(200, { status: 'ok', role: 'gateway-sync' });
    if (url === '/health/ready') {
      const state = sync.state;
      const ok = ready && !state.lastError;
      return send(ok ? 200 : 503, {
        status: ok ? 'ok' : 'not ready',
        role: 'gateway-sync',
        error: state.lastError,
      });
    }
    if (url === '/upstreams') return send(200, sync.state);
    if (url === '/sd/prometheus') return send(200, sync.prometheusTargets());
    return send(404, { error: 'not_found', message: `no route for ${req.method} ${url}` });
  });
  await new Promise<void>((resolve) => server.listen(c.SYNC_PORT, c.SYNC_HOST, resolve));

  const stop = async (signal: string) => {
    logger.info({ signal }, 'gateway sync stopping');
    server.close();
    await sync.stop();
    await registry.close();
    process.exit(0);
  };
  process.once('SIGTERM', (s) => void stop(s));
  process.once('SIGINT', (s) => void stop(s));

  await sync.start();
  ready = true;
  logger.info(
    {
      port: c.SYNC_PORT,
      gateway: `${c.GATEWAY_HOST}:${c.GATEWAY_PORT}`,
      registry: c.DISCOVERY_BACKEND,
      limits: syncLimits(c),
    },
    'gateway sync ready',
  );
}

main().catch((err: Error) => {
  console.error(`gateway-sync failed to start: ${err.stack ?? err.message}`);
  process.exit(1);
});
