import { Inject, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  CoordinationBackend,
  CoordinationModule,
  ElectionStatus,
  FeatureFlags,
  FlagStore,
  LeaderElection,
  Leadership,
} from '@stayline/coordination';
import { Registration, ServiceRegistry } from '../registry';
import { DiscoveryLifecycle } from './discovery.lifecycle';
import { DiscoveryModule } from './discovery.module';
import { SERVICE_REGISTRY } from './discovery.options';

/** Every call the fakes see, in order. */
let calls: string[];

function fakeBackend(): CoordinationBackend {
  const snapshot = { version: 1, flags: {} };
  const store: FlagStore = {
    load: async () => snapshot,
    write: async () => 1,
    watch: async (listener) => {
      listener(snapshot, []);
      return async () => undefined;
    },
  };
  const election = (name: string): LeaderElection => ({
    state: { status: ElectionStatus.Follower },
    token: undefined,
    start: async () => void calls.push(`campaign ${name}`),
    stop: async () => void calls.push(`resign ${name}`),
    on: () => () => undefined,
  });
  return {
    election,
    lock: () => {
      throw new Error('not used');
    },
    flagStore: () => store,
    fencedResource: () => {
      throw new Error('not used');
    },
    close: async () => void calls.push('close coordination'),
  };
}

function fakeRegistry(): ServiceRegistry {
  return {
    list: async () => [],
    watch: async () => () => undefined,
    register: async (instance) =>
      ({
        instance,
        update: async () => undefined,
        deregister: async () => void calls.push('deregister'),
        release: async () => undefined,
      }) as Registration,
    registerOnBehalf: () => Promise.reject(new Error('not used')),
    close: async () => void calls.push('close registry'),
  };
}

const CONFIG = Symbol('CONFIG');

@Module({ providers: [{ provide: CONFIG, useValue: { service: 'svc' } }], exports: [CONFIG] })
class ConfigModule {}

/** Uses what both modules export without importing them: they are global. */
@Injectable()
class Consumer {
  constructor(
    readonly leadership: Leadership,
    readonly flags: FeatureFlags,
    @Inject(SERVICE_REGISTRY) readonly registry: ServiceRegistry,
    readonly lifecycle: DiscoveryLifecycle,
  ) {}
}

@Module({ providers: [Consumer] })
class FeatureModule {}

beforeEach(() => {
  calls = [];
});

describe('CoordinationModule and DiscoveryModule', () => {
  it('take options from forRoot or from forRootAsync factories, and are global', async () => {
    const backend = fakeBackend();
    const registry = fakeRegistry();
    const moduleRef = await Test.createTestingModule({
      imports: [
        CoordinationModule.forRoot({ service: 'svc', backend, elections: { nightly: {} } }),
        DiscoveryModule.forRootAsync({
          imports: [ConfigModule],
          inject: [CONFIG],
          useFactory: (c: { service: string }) => ({
            service: c.service,
            instanceId: 'svc-1',
            redis: { host: '127.0.0.1', port: 1 },
            registry,
            register: 'manual',
            drainDelayMs: 0,
          }),
        }),
        FeatureModule,
      ],
    }).compile();
    const app = moduleRef.createNestApplication();
    await app.init();

    const consumer = app.get(Consumer);
    expect(consumer.registry).toBe(registry);
    expect(consumer.flags.ready).toBe(true);
    expect(consumer.leadership.states()).toHaveProperty('nightly');
    expect((await consumer.lifecycle.register()).instance).toMatchObject({
      service: 'svc',
      id: 'svc-1',
    });

    await app.close();
    // discovery deregisters and drains before coordination resigns and closes
    expect(calls).toEqual([
      'campaign nightly',
      'deregister',
      'resign nightly',
      'close registry',
      'close coordination',
    ]);
  });
});
