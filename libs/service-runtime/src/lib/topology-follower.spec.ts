import { StaleTopologyError, Topology, TopologyListener, TopologySource } from '@stayline/database';
import type { ReplicaRouter } from '@stayline/database';
import { TopologyFollower } from './topology-follower';

const node = (n: number) => ({ name: `mariadb-${n}`, host: '127.0.0.1', port: 3400 + n });
const topology = (epoch: number, primary: number): Topology => ({
  epoch,
  primary: node(primary),
  replicas: [1, 2, 3].filter((n) => n !== primary).map(node),
});

/** A source that fails its first `failures` watch attempts, then delivers what `push` sends. */
class FakeSource implements TopologySource {
  listener?: TopologyListener;
  attempts = 0;
  closed = false;
  constructor(
    private failures = 0,
    private readonly initial?: Topology,
  ) {}
  current = jest.fn();
  publish = jest.fn();
  async watch(listener: TopologyListener) {
    this.attempts++;
    if (this.failures-- > 0) throw new Error('coordinator unreachable');
    this.listener = listener;
    if (this.initial) listener(this.initial);
    return async () => undefined;
  }
  push(t: Topology) {
    this.listener?.(t);
  }
  async close() {
    this.closed = true;
  }
}

/** A router that records what it switched to and refuses epochs not newer than its own. */
function fakeRouter(initialEpoch = 0) {
  let epoch = initialEpoch;
  const switched: Topology[] = [];
  const router = {
    updateTopology: jest.fn(async (t: Topology) => {
      await new Promise((r) => setTimeout(r, 5)); // a switch opens pools first
      if (t.epoch <= epoch) throw new StaleTopologyError(t.epoch, epoch);
      epoch = t.epoch;
      switched.push(t);
    }),
  };
  return { router: router as unknown as ReplicaRouter, switched };
}

describe('TopologyFollower', () => {
  it('hands the current topology to the router before the app starts, then every newer one', async () => {
    const source = new FakeSource(0, topology(1, 1));
    const { router, switched } = fakeRouter();
    const follower = new TopologyFollower(router, source, undefined, 10);
    await follower.onModuleInit();
    expect(switched.map((t) => t.epoch)).toEqual([1]); // applied, not merely received
    source.push(topology(2, 2));
    for (let i = 0; i < 200 && switched.length < 2; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(switched.map((t) => t.primary.name)).toEqual(['mariadb-1', 'mariadb-2']);
    expect(follower.epoch).toBe(2);
    await follower.onApplicationShutdown();
    expect(source.closed).toBe(true);
  });

  it('ignores a topology the router refuses as stale', async () => {
    const source = new FakeSource(0);
    const { router, switched } = fakeRouter(5);
    const follower = new TopologyFollower(router, source, undefined, 10);
    await follower.onModuleInit();
    source.push(topology(3, 2));
    await new Promise((r) => setTimeout(r, 20));
    expect(switched).toEqual([]);
    expect(follower.epoch).toBe(0);
    await follower.onApplicationShutdown();
  });

  it('does not hold the start-up when the coordinator cannot be read, and watches once it can', async () => {
    const source = new FakeSource(2, topology(1, 1));
    const { router, switched } = fakeRouter();
    const follower = new TopologyFollower(router, source, undefined, 10);
    await follower.onModuleInit(); // resolves although the first attempt failed
    expect(switched).toEqual([]);
    for (let i = 0; i < 200 && switched.length === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(source.attempts).toBe(3);
    expect(switched.map((t) => t.epoch)).toEqual([1]);
    await follower.onApplicationShutdown();
  });
});
