import { DynamicModule, Module, OnApplicationShutdown } from '@nestjs/common';
import {
  faultInjectorProvider,
  platformImports,
  sentinelRedisProvider,
} from '@stayline/service-runtime';
import type Redis from 'ioredis';
import { ScrapConfig } from './config';
import { CreateScraps1764000000000 } from './migrations/1764000000000-create-scraps';
import { ExactIdentifiers1765000000000 } from './migrations/1765000000000-exact-identifiers';
import { dnsResolver } from './scraping/resolve-host';
import { SsrfGuard } from './scraping/ssrf-guard';
import { FetchSlots } from './scraps/fetch-slots';
import { PageCardCache } from './scraps/page-card.cache';
import { Scrap } from './scraps/scrap.entity';
import { ScrapsController } from './scraps/scraps.controller';
import { FETCH_LIMITS, SCRAP_FAULTS, ScrapsService } from './scraps/scraps.service';

export const SCRAP_MIGRATIONS = [CreateScraps1764000000000, ExactIdentifiers1765000000000];
const CACHE_REDIS = Symbol('CACHE_REDIS');

class RedisCloser implements OnApplicationShutdown {
  constructor(private readonly redis: Redis) {}
  onApplicationShutdown(): void {
    this.redis.disconnect();
  }
}

@Module({})
export class AppModule {
  static forRoot(config: ScrapConfig): DynamicModule {
    return {
      module: AppModule,
      imports: platformImports(config, { entities: [Scrap] }),
      controllers: [ScrapsController],
      providers: [
        sentinelRedisProvider(CACHE_REDIS, config, { connectionName: config.INSTANCE_ID }),
        {
          provide: RedisCloser,
          useFactory: (r: Redis) => new RedisCloser(r),
          inject: [CACHE_REDIS],
        },
        {
          provide: PageCardCache,
          useFactory: (r: Redis) => new PageCardCache(r, config.SCRAP_CACHE_TTL_S),
          inject: [CACHE_REDIS],
        },
        {
          provide: SsrfGuard,
          useValue: new SsrfGuard({
            allowCidrs: config.SCRAP_ALLOW_CIDRS,
            resolve: dnsResolver({ servers: config.SCRAP_DNS_SERVERS }),
          }),
        },
        {
          provide: FetchSlots,
          useValue: new FetchSlots({
            perInstance: config.SCRAP_MAX_FETCHES,
            perUser: config.SCRAP_MAX_FETCHES_PER_USER,
          }),
        },
        {
          provide: FETCH_LIMITS,
          useValue: {
            maxBytes: config.SCRAP_MAX_BYTES,
            timeoutMs: config.SCRAP_TIMEOUT_MS,
            maxRedirects: config.SCRAP_MAX_REDIRECTS,
          },
        },
        faultInjectorProvider(SCRAP_FAULTS, config),
        ScrapsService,
      ],
    };
  }
}
