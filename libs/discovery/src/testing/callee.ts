/**
 * Fixture process: a tiny NestJS hybrid service (HTTP + @nestjs/microservices
 * TCP) that registers itself in the Redis registry after it listens and
 * deregisters first on SIGTERM. Answers `ping` with its instance id.
 *   run.cjs callee.ts --redis <url> --service echo --id echo-1 --http 4101 --tcp 4201 [--delay 0]
 * TCP patterns: ping -> { id, pid }; slow { ms } -> { id } after ms; fail-mode { on } makes ping fail.
 * HTTP: GET /ping -> { id }; GET /health/live.
 */
import 'reflect-metadata';
import { Controller, Get, HttpException, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, MicroserviceOptions, RpcException, Transport } from '@nestjs/microservices';
import { parseRedisTarget } from '@stayline/coordination';
import { describeInstance } from '../lib/instance';
import { RedisRegistry } from '../lib/redis.registry';
import { fixtureArgs } from './processes';

const args = fixtureArgs();
const delayMs = Number(args.delay ?? 0);
let failing = false;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

@Controller()
class EchoController {
  @MessagePattern('ping')
  async ping(): Promise<{ id: string; pid: number }> {
    if (delayMs) await pause(delayMs);
    if (failing) throw new RpcException({ status: 'error', message: `${args.id} is failing on purpose` });
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

  @Get('ping')
  async httpPing(): Promise<{ id: string }> {
    if (delayMs) await pause(delayMs);
    if (failing) throw new HttpException({ message: `${args.id} is failing on purpose` }, 503);
    return { id: args.id };
  }

  @Get('health/live')
  live(): { status: string } {
    return { status: 'up' };
  }
}

@Module({ controllers: [EchoController] })
class EchoModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create(EchoModule, { logger: ['error', 'warn'] });
  app.connectMicroservice<MicroserviceOptions>({ transport: Transport.TCP, options: { host: '127.0.0.1', port: Number(args.tcp) } });
  await app.startAllMicroservices();
  await app.listen(Number(args.http), '127.0.0.1');
  const registry = new RedisRegistry({ redis: parseRedisTarget(args.redis) });
  const registered = registry.register(
    describeInstance({ service: args.service, id: args.id, host: '127.0.0.1', httpPort: Number(args.http), tcpPort: Number(args.tcp) }),
  );
  // installed before the registration completes: a caller may see the entry before this process sees the reply
  process.once('SIGTERM', () => {
    void registered
      .then((r) => r.deregister())
      .then(() => app.close())
      .finally(() => registry.close())
      .finally(() => process.exit(0));
  });
  await registered;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
