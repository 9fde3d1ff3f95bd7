/**
 * The stack commands. The whole stack: MariaDB, Redis + Sentinel, 2 instances of
 * every service (STAYLINE_INSTANCES), the gateway sync, nginx on :8080 and Prometheus on
 * :9490 (STAYLINE_PROMETHEUS_PORT; STAYLINE_PROMETHEUS=0 leaves it out).
 *   npm start                      the whole stack in the foreground; Ctrl-C stops everything
 *   npm run stack:up               the same, detached; returns once everything is healthy
 *   npm run stack:down             stops a detached stack; no process or port is left
 *   npm run stack:status [-- --json]   a table, or the status contract as JSON
 * State lives under .stack/ (STAYLINE_STATE_DIR to move it).
 * The demos book through this stack's gateway as load from one address and as a
 * few users, so it raises the gateway's booking limit (STAYLINE_GATEWAY_BOOKING_RATE
 * and _BURST set it; 1r/s and 5 are the production values), the per-token limits
 * (STAYLINE_GATEWAY_TOKEN_REQUEST_RATE and _BURST, 10r/s and 50 in production;
 * STAYLINE_GATEWAY_TOKEN_BOOKING_RATE and _BURST, 30r/m and 5) and the requests one
 * address may have in progress (STAYLINE_GATEWAY_CONNECTIONS_PER_CLIENT; 64 in production);
 * they show load balancing, so its gateway keeps X-Instance-Id
 * (STAYLINE_GATEWAY_EXPOSE_INSTANCE_ID=false hides it, as production does).
 */
import path from 'node:path';
import { GatewayLimits, isBurst, isConnectionLimit, isRequestRate } from '@stayline/gateway';
import {
  DEFAULT_GATEWAY_SYNC_PORT,
  DEFAULT_PROMETHEUS_PORT,
  DEFAULT_SERVICE_PORTS,
  ServicePorts,
  SERVICES,
  Stack,
  StackPorts,
  DEFAULT_AGENT_PORTS,
  startWholeStack,
  ComponentStatus,
  LOAD_GATEWAY_LIMITS,
  StackStatus,
} from '@stayline/stack-kit';

const ROOT = path.resolve(__dirname, '../../..');
const STATE_DIR = path.resolve(process.env.STAYLINE_STATE_DIR ?? path.join(ROOT, '.stack'));

function portsFromEnv(): Partial<StackPorts> {
  const list = (name: string, fallback: number[]) =>
    process.env[name] ? process.env[name].split(',').map((p) => Number(p.trim())) : fallback;
  return {
    mariadb: list('STAYLINE_MARIADB_PORTS', [3407, 3408, 3409]),
    redis: list('STAYLINE_REDIS_PORTS', [6479, 6480]),
    sentinel: list('STAYLINE_SENTINEL_PORTS', [26479, 26480, 26481]),
    nginx: Number(process.env.STAYLINE_GATEWAY_PORT ?? 8080),
    etcd: list('STAYLINE_ETCD_PORTS', [2479, 2480, 2481]),
    etcdPeer: list('STAYLINE_ETCD_PEER_PORTS', [2579, 2580, 2581]),
  };
}

/**
 * The gateway's limits: STAYLINE_GATEWAY_BOOKING_RATE and _BURST (per address),
 * _TOKEN_REQUEST_RATE, _TOKEN_REQUEST_BURST, _TOKEN_BOOKING_RATE and _TOKEN_BOOKING_BURST
 * (per token), _CONNECTIONS_PER_CLIENT and _EXPOSE_INSTANCE_ID, else the demos' load
 * limits (X-Instance-Id shown).
 */
function gatewayLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): GatewayLimits {
  const rates = {
    bookingRate: 'STAYLINE_GATEWAY_BOOKING_RATE',
    tokenRequestRate: 'STAYLINE_GATEWAY_TOKEN_REQUEST_RATE',
    tokenBookingRate: 'STAYLINE_GATEWAY_TOKEN_BOOKING_RATE',
  } as const;
  const bursts = {
    bookingBurst: 'STAYLINE_GATEWAY_BOOKING_BURST',
    tokenRequestBurst: 'STAYLINE_GATEWAY_TOKEN_REQUEST_BURST',
    tokenBookingBurst: 'STAYLINE_GATEWAY_TOKEN_BOOKING_BURST',
  } as const;
  const limits: GatewayLimits = { ...LOAD_GATEWAY_LIMITS };
  for (const [key, name] of Object.entries(rates) as Array<[keyof typeof rates, string]>) {
    limits[key] = env[name] ?? limits[key];
    if (!isRequestRate(limits[key]))
      throw new Error(`${name}: expected e.g. 1r/s or 30r/m, got "${limits[key]}"`);
  }
  for (const [key, name] of Object.entries(bursts) as Array<[keyof typeof bursts, string]>) {
    limits[key] = Number(env[name] ?? limits[key]);
    if (!isBurst(limits[key]))
      throw new Error(`${name}: expected a whole number, got "${env[name]}"`);
  }
  limits.connectionsPerClient = Number(
    env.STAYLINE_GATEWAY_CONNECTIONS_PER_CLIENT ?? LOAD_GATEWAY_LIMITS.connectionsPerClient,
  );
  if (!isConnectionLimit(limits.connectionsPerClient))
    throw new Error(
      `STAYLINE_GATEWAY_CONNECTIONS_PER_CLIENT: expected a whole number from 1 to 65535, got "${env.STAYLINE_GATEWAY_CONNECTIONS_PER_CLIENT}"`,
    );
  const expose =
    env.STAYLINE_GATEWAY_EXPOSE_INSTANCE_ID ?? String(LOAD_GATEWAY_LIMITS.exposeInstanceId);
  if (!['true', 'false', '1', '0'].includes(expose))
    throw new Error(`STAYLINE_GATEWAY_EXPOSE_INSTANCE_ID: expected true or false, got "${expose}"`);
  limits.exposeInstanceId = expose === 'true' || expose === '1';
  return limits;
}

/** `STAYLINE_PAYMENT_HTTP_PORTS=4101,4102`, `STAYLINE_PAYMENT_TCP_PORTS=5101,5102`... */
function servicePortsFromEnv(): Record<string, ServicePorts> {
  const list = (name: string) => process.env[name]?.split(',').map((p) => Number(p.trim()));
  return Object.fromEntries(
    SERVICES.map((s) => {
      const key = `STAYLINE_${s.toUpperCase()}`;
      const fallback = DEFAULT_SERVICE_PORTS[s];
      return [
        s,
        {
          http: list(`${key}_HTTP_PORTS`) ?? fallback.http,
          tcp: list(`${key}_TCP_PORTS`) ?? fallback.tcp,
        },
      ];
    }),
  );
}

const log = (line: string) => console.error(`[stack] ${line}`);

function cell(v: unknown): string {
  if (v === undefined || v === null || v === '') return '-';
  return String(v);
}

export function formatStatus(status: StackStatus): string {
  const header = [
    'COMPONENT',
    'KIND',
    'ROLE',
    'PID',
    'PORT',
    'HEALTH',
    'LAG(ms)',
    'SEMI-SYNC',
    'GTID',
    'FOLLOWS/MASTER',
  ];
  const rows = status.components.map((c: ComponentStatus) => [
    c.name,
    c.kind,
    c.role,
    cell(c.pid),
    Object.entries(c.ports)
      .map(([k, v]) => (Object.keys(c.ports).length > 1 ? `${k}:${v}` : String(v)))
      .join(' '),
    c.healthy ? 'healthy' : `DOWN${c.reason ? ` (${c.reason})` : ''}`,
    c.kind === 'mariadb' ? cell(c.lagMs) : '-',
    cell(c.semiSync),
    cell(c.gtid),
    c.kind === 'sentinel'
      ? `${cell(c.master)}${c.quorum ? ' (quorum ok)' : ' (NO QUORUM)'}`
      : c.kind === 'etcd'
        ? `member ${cell(c.member)} leader ${cell(c.leader)}`
        : cell(c.primary),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((v, i) => v.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

async function up(foreground: boolean): Promise<void> {
  const running = Stack.attach(STATE_DIR);
  if (running && (await running.status()).components.some((c) => c.healthy)) {
    log(`a stack is already running from ${STATE_DIR}; stopping it first`);
    await running.stop();
  }
  const t0 = Date.now();
  // a second stack beside the first (its own STAYLINE_STATE_DIR): every port drawn free
  const free = process.env.STAYLINE_FREE_PORTS === '1';
  const stack = await startWholeStack({
    stateDir: STATE_DIR,
    ports: free ? {} : portsFromEnv(),
    etcd: process.env.STAYLINE_ETCD !== '0', // the quorum coordinator (docs/patterns/coordinator.md)
    gatewayLimits: gatewayLimitsFromEnv(),
    detached: true,
    log,
    instances: Number(process.env.STAYLINE_INSTANCES ?? 2),
    agentPorts: free ? undefined : DEFAULT_AGENT_PORTS,
    // metrics and alert rules (docs/observability.md); STAYLINE_PROMETHEUS=0 leaves it out
    prometheus:
      process.env.STAYLINE_PROMETHEUS === '0'
        ? false
        : {
            port: free
              ? undefined
              : Number(process.env.STAYLINE_PROMETHEUS_PORT ?? DEFAULT_PROMETHEUS_PORT),
          },
    services: free
      ? {}
      : {
          ports: servicePortsFromEnv(),
          gatewaySyncPort: Number(
            process.env.STAYLINE_GATEWAY_SYNC_PORT ?? DEFAULT_GATEWAY_SYNC_PORT,
          ),
        },
  });
  log(`whole stack up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(formatStatus(await stack.status()));
  console.log(`\ngateway: ${stack.nginx.url}`);
  if (!foreground) return;
  console.log('Ctrl-C stops everything.');
  // signal listeners do not keep Node running: without this timer `npm start` would return at once
  const alive = setInterval(() => undefined, 1 << 30);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(alive);
  log('stopping...');
  await stack.stop();
  log('stopped; no process left');
}

async function down(): Promise<void> {
  const stack = Stack.attach(STATE_DIR);
  if (!stack) {
    log(`no stack recorded in ${STATE_DIR}`);
    return;
  }
  await stack.stop();
  log('stopped; no process or port left');
}

async function status(json: boolean): Promise<void> {
  const stack = Stack.attach(STATE_DIR);
  if (!stack) {
    if (json) console.log(JSON.stringify({ components: [] }));
    else log(`no stack recorded in ${STATE_DIR}; start one with npm run stack:up`);
    process.exitCode = 1;
    return;
  }
  const s = await stack.status();
  console.log(json ? JSON.stringify(s, null, 2) : formatStatus(s));
}

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  switch (command) {
    case 'start':
      return up(true);
    case 'up':
      return up(false);
    case 'down':
      return down();
    case 'status':
      return status(args.includes('--json'));
    default:
      console.error('usage: cli.ts start | up | down | status [--json]');
      process.exitCode = 2;
  }
}

main().catch((err: Error) => {
  console.error(`error: ${err.message}`);
  process.exit(1);
});
