/**
 * Fixture process: a tiny NestJS hybrid service (HTTP + @nestjs/microservices
 * TCP) wired the way every stayline service is: ObservabilityModule for health
 * and metrics, CoordinationModule for flags and leadership, DiscoveryModule to
 * register once listening and to deregister
 * first on SIGTERM, then drain.
 *   run.cjs callee.ts --redis <url> --service echo --id echo-1 --http 4101 --tcp 4201 [--delay 0] [--election name] [--ttl 3000]
 * TCP patterns: ping -> { id, pid }; slow { ms } -> { id } after ms; fail-mode { on } makes ping fail;
 * flag { name } -> { id, value }; leader { name } -> { id, token }.
 * HTTP: GET /ping -> { id }; /health, /metrics from ObservabilityModule.
 */
import 'reflect-metadata';
import { Controller, Get, HttpException, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  MessagePattern,
  MicroserviceOptions,
  RpcException,
  Transport,
} from '@nestjs/microservices';
import {
  CoordinationModule,
  FeatureFlags,
  FlagValue,
  Leadership,
  parseRedisTarget,
  redisAuthFromEnv,
} from '@stayline/coordination';
import { TCP_FRAMING } from '@stayline/contracts';
import { ObservabilityModule } from '@stayline/observability';
import { DiscoveryModule } from '../lib/nest/discovery.module';
import { fixtureArgs } from './processes';

const args = fixtureArgs();
const delayMs = Number(args.delay ?? 0);
let failing = false;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

@Controller()
class EchoController {
  constructor(
    private readonly flags: FeatureFlags,
    private readonly leadership: Leadership,
  ) {}

  @MessagePattern('ping')
  async ping(): Promise<{ id: string; pid: number }> {
    if (delayMs) await pause(delayMs);
    if (failing)
      throw new RpcException({ status: 'error', message: `${args.id} is failing on purpose` });
    return { id: args.id, pid: process.pid };
  }

  @MessagePattern('slow')
  async slow(data: { ms: number }): Promise<{ id: string }> {
    await pause(data.ms);
    return { id: args.id };
  }

  @MessagePattern('fail-mode')
  failMode(data: { on: boolean }): { id: string; failing: boolean } {
    failing = data.on;
    return { id: args.id, failing };
  }

  @MessagePattern('flag')
  flag(data: { name: string }): { id: string; value: FlagValue | null } {
    return { id: args.id, value: this.flags.get(data.name) ?? null };
  }

  @MessagePattern('leader')
  leader(data: { name: string }): { id: string; token: number | null } {
    return { id: args.id, token: this.leadership.election(data.name).token ?? null };
  }

  @Get('ping')
  async httpPing(): Promise<{ id: string }> {
    if (delayMs) await pause(delayMs);
    if (failing) throw new HttpException({ message: `${args.id} is failing on purpose` }, 503);
    return { id: args.id };
  }
}

@Module({
  imports: [
    ObservabilityModule.forRoot({ service: args.service, level: 'warn' }),
    CoordinationModule.forRoot({
      service: args.service,
      redis: { ...parseRedisTarget(args.redis), ...redisAuthFromEnv() },
      elections: args.election ? { [args.election]: {} } : undefined,
    }),
    DiscoveryModule.forRoot({
      service: args.service,
      instanceId: args.id,
      tcpPort: Number(args.tcp),
      redis: { ...parseRedisTarget(args.redis), ...redisAuthFromEnv() },
      lease: args.ttl ? { ttlMs: Number(args.ttl) } : undefined,
    }),
  ],
  controllers: [EchoController],
})
class EchoModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create(EchoModule, { logger: ['error', 'warn'] });
  app.enableShutdownHooks();
  // inheritAppConfig: the app's global interceptors (the in-flight count the drain waits for) also wrap TCP handlers
  app.connectMicroservice<MicroserviceOptions>(
    {
      transport: Transport.TCP,
      options: { host: '127.0.0.1', port: Number(args.tcp), ...TCP_FRAMING },
    },
    { inheritAppConfig: true },
  );
  await app.startAllMicroservices();
  await app.listen(Number(args.http), '127.0.0.1');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
