import {
  BeforeApplicationShutdown,
  DynamicModule,
  Inject,
  Injectable,
  Module,
  OnApplicationBootstrap,
} from '@nestjs/common';
import {
  createCoordinationBackend,
  parseEtcdEndpoints,
  withEtcdLogin,
} from '@stayline/coordination';
import { ETCD_PREFIXES } from '@stayline/contracts';
import { EtcdRegistry, RedisRegistry, ServiceRegistry } from '@stayline/discovery';
import { IdentityModule, TokenVerifier } from '@stayline/identity';
import { createLogger, MetricsController, pinoHttpOptions } from '@stayline/observability';
import { LoggerModule } from 'nestjs-pino';
import type { Logger } from 'pino';
import { FailoverAgent } from './agent/failover-agent';
import { AgentConfig } from './config';
import { TopologyStore } from './coordinator/topology-store';
import { AdminController } from './http/admin.controller';
import { DiscoveredKeys, discoveredVerifier, redisTargetOf } from '@stayline/service-runtime';
import { HealthController } from './http/health.controller';
import { MariaDbAdmin } from './mariadb/mariadb-admin';
import { RedisNodes } from './redis/redis-nodes';
import { CommandStonith } from './stonith/command.stonith';
import { NativeStonith } from './stonith/native.stonith';
import { NoStonith, Stonith } from './stonith/stonith';

const RESOURCES = Symbol('AGENT_RESOURCES');

interface Resources {
  close(): Promise<void>;
}

/**
 * Builds the agent and everything it talks to from the validated config, and
 * the verifier of its admin routes' tokens: the auth service's published keys,
 * fetched from an auth instance the registry lists, as every service does. The
 * agent needs them for nothing else: it starts, watches and fails the database
 * over with auth down; only its admin routes then answer 503 (once the keys it
 * last fetched are 10 minutes old).
 */
export function buildAgent(
  c: AgentConfig,
  logger: Logger,
): { agent: FailoverAgent; verifier: TokenVerifier } & Resources {
  const redis = redisTargetOf(c);
  const etcd = c.ETCD_ENDPOINTS
    ? withEtcdLogin(parseEtcdEndpoints(c.ETCD_ENDPOINTS), c.ETCD_USERNAME, c.ETCD_PASSWORD)
    : undefined;
  // the election that decides who promotes the database runs on the quorum store when there is one
  const coordination = createCoordinationBackend(
    c.COORDINATION_BACKEND,
    // under the agents' own prefix: a service's etcd user may not touch it (libs/contracts etcd-auth.ts)
    { redis, etcd, etcdPrefix: ETCD_PREFIXES.agents.replace(/\/$/, '') },
    logger,
  );
  // its user may write the datastores' entries only: a watch of its removes nothing
  const registry = new RedisRegistry({ redis, logger, sweepLeases: false });
  const authRegistry: ServiceRegistry =
    c.DISCOVERY_BACKEND === 'etcd'
      ? new EtcdRegistry({ etcd: etcd as NonNullable<typeof etcd> })
      : registry;
  const keys = new DiscoveredKeys(authRegistry);
  const store = new TopologyStore(redis, logger);
  const via = new Map(c.MARIADB_VIA.map((n) => [n.name, n]));
  const admin = new MariaDbAdmin({
    admin: { user: c.STAYLINE_DB_ADMIN_USER, password: c.STAYLINE_DB_ADMIN_PASSWORD },
    replication: { user: c.STAYLINE_DB_REPL_USER, password: c.STAYLINE_DB_REPL_PASSWORD },
    route: (n) => via.get(n.name) ?? n,
    probeTimeoutMs: c.PROBE_TIMEOUT_MS,
  });
  const stonith: Stonith =
    c.STONITH === 'native'
      ? new NativeStonith(c.STONITH_STATE_FILE as string)
      : c.STONITH === 'command'
        ? new CommandStonith(c.STONITH_COMMAND as string)
        : new NoStonith();
  const redisNodes = new RedisNodes(c.REDIS_NODES, {
    username: c.REDIS_USERNAME,
    password: c.REDIS_PASSWORD,
  });
  const agent = new FailoverAgent({
    config: c,
    logger,
    coordination,
    registry,
    store,
    admin,
    stonith,
    redisNodes,
  });
  return {
    agent,
    verifier: discoveredVerifier(keys, c),
    close: async () => {
      await keys.onModuleDestroy();
      if (authRegistry !== registry) await authRegistry.close();
      redisNodes.close();
      await store.close();
      await registry.close();
      await coordination.close();
    },
  };
}

/** Starts the agent once the app is up; on SIGTERM it resigns (the other agent takes over at once). */
@Injectable()
class AgentLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    private readonly agent: FailoverAgent,
    @Inject(RESOURCES) private readonly resources: Resources,
  ) {}

  onApplicationBootstrap(): Promise<void> {
    return this.agent.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.agent.stop();
    await this.resources.close();
  }
}

/** The failover agent as a Nest app: health, metrics and the admin routes over one FailoverAgent. */
@Module({})
export class AppModule {
  static forRoot(c: AgentConfig): DynamicModule {
    const logger = createLogger({ service: 'failover-agent', level: c.LOG_LEVEL });
    const built = buildAgent(c, logger.child({ agentId: c.AGENT_ID }));
    return {
      module: AppModule,
      imports: [
        LoggerModule.forRoot({ pinoHttp: pinoHttpOptions(logger) }),
        IdentityModule.forRoot({
          issuer: c.AUTH_ISSUER,
          audience: c.AUTH_AUDIENCE,
          verifier: built.verifier,
        }),
      ],
      controllers: [HealthController, MetricsController, AdminController],
      providers: [
        { provide: FailoverAgent, useValue: built.agent },
        { provide: RESOURCES, useValue: built },
        AgentLifecycle,
      ],
    };
  }
}
